import BackendCPU
import OpCatalogue
import Testing
import TensorCore

/// The catalogue on the CPU: bf16/f16 paths and fused ops against the oracle's f32/composed results.
@Suite struct CatalogueOnCPUTests {
    @Test func everyCaseOfTheCatalogueRunsOnTheCPU() throws {
        let runner = OpCaseRunner(backend: CPUBackend(), widenReference: true)
        var failures: [String] = []
        for c in OpCatalogue.all where runner.isInformative(c) {
            let r = runner.run(c)
            if r.isFailure { failures.append("\(c.op) \(c.dtype) \(c.variant): \(r.status) nmse \(r.nmse ?? -1)") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func theRunnerCatchesAWrongResult() throws {
        // A case whose call under test differs from its reference must fail: the harness can fail.
        let wrong = OpCase(op: "selftest", variant: "exp vs tanh", dtype: .f32,
                           inputs: { try [$0.tensor([64])] },
                           run: { b, x in try b.unary(.exp, x[0]) },
                           reference: { b, x in try b.unary(.tanh, x[0]) })
        let r = OpCaseRunner(backend: CPUBackend()).run(wrong)
        #expect(r.isFailure)
        let nan = try Tensor.host([1, .nan], shape: [2]), ref = try Tensor.host([1, 2], shape: [2])
        #expect(try OpCaseRunner.nmse(nan, ref).isNaN)
    }
}
