import BackendCPU
@testable import BackendCUDA
import Testing
import TensorCore

/// `CUDABackend.binary`'s choice of memory order, without a GPU: when the first operand is a
/// permuted dense view, the op runs on both operands permuted into its memory order and the result
/// is permuted back. The CPU checks that this rewrite keeps every logical value, and the views the
/// rewrite hands the plain path select the kernel the brief intends (dense, repeated row, generic).
struct BinaryLayoutTests {
    enum Path: Equatable { case dense, rows, generic }

    /// The kernel the plain path of `binary` takes for these (already expanded) operands.
    static func path(_ a: Tensor, _ b: Tensor) throws -> Path {
        if try StridedArgument(a).isLinear, try StridedArgument(b).isLinear { return .dense }
        if CUDABackend.repeatedRow(b) != nil, try StridedArgument(a).isLinear { return .rows }
        return .generic
    }

    /// [1, L, H, D] memory of `base`'s values viewed as [1, H, L, D] (the CUDA attention layout).
    static func heads(_ values: [Float], l: Int, h: Int, d: Int) throws -> Tensor {
        try Tensor.host(values, shape: [1, l, h, d]).permuted([0, 2, 1, 3])
    }

    /// Runs `binary` as the CUDA backend arranges it, on the CPU; returns the result and the path.
    static func rewritten(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ cpu: CPUBackend) throws -> (Tensor, Path, permuted: Bool) {
        let shape = try Tensor.broadcastShape(a.shape, b.shape)
        let eb = try b.expanded(to: shape)
        if let order = CUDABackend.binaryMemoryOrder(a, shape) {
            let (pa, pb) = (try a.permuted(order), try eb.permuted(order))
            #expect(pa.isContiguous)
            let out = try cpu.binary(op, pa, pb).permuted(Tensor.inverse(order))
            return (out, try path(pa, pb), true)
        }
        return (try cpu.binary(op, a, b), try path(a.expanded(to: shape), eb), false)
    }

    @Test func permutedOperands() throws {
        let cpu = CPUBackend()
        let (l, h, d) = (5, 3, 4), n = l * h * d
        let x = (0..<n).map { Float($0) * 0.25 - 3 }, y = (0..<n).map { Float(($0 * 7) % 11) - 5 }
        let a = try Self.heads(x, l: l, h: h, d: d)
        let cases: [(String, Tensor, Tensor, Path, Bool)] = [
            ("same permutation", a, try Self.heads(y, l: l, h: h, d: d), .dense, true),
            ("permuted + row-major", a, try Tensor.host(y, shape: [1, h, l, d]), .generic, true),
            ("row-major + permuted", try Tensor.host(y, shape: [1, h, l, d]), a, .generic, false),
            ("other permutation", a, try Tensor.host(y, shape: [1, d, l, h]).permuted([0, 3, 2, 1]), .generic, true),
            ("permuted + row", a, try Tensor.host(Array(y.prefix(d)), shape: [d]), .rows, true),
            ("broadcast first", try Tensor.host(Array(x.prefix(d)), shape: [d]), a, .generic, false),
        ]
        for (name, lhs, rhs, want, permuted) in cases {
            for op in [BinaryOp.add, .sub, .mul, .maximum] {
                let (got, path, isPermuted) = try Self.rewritten(op, lhs, rhs, cpu)
                let expected = try cpu.binary(op, lhs, rhs)
                #expect(got.shape == expected.shape, "\(name) \(op)")
                #expect(try got.floats() == expected.floats(), "\(name) \(op)")
                #expect(path == want, "\(name) \(op)")
                #expect(isPermuted == permuted, "\(name) \(op)")
                // The result follows a's memory order: merging the heads back is a view.
                if permuted { #expect(try got.permuted([0, 2, 1, 3]).isContiguous, "\(name) \(op)") }
            }
        }
    }
}
