import ArgumentParser
import BackendCPU
import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import OpCatalogue
import TensorCore

/// `turbodiffusion test-backend`: the op catalogue on a device against the CPU oracle.
struct TestBackendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-backend",
        abstract: "Run every op case of the catalogue on a device and compare with the CPU oracle.",
        discussion: """
        Each case runs on fresh random inputs (the same on every device) with outputs poisoned first \
        (CUDA fills new buffers with NaN) and guard bytes after every buffer, and is compared with the CPU backend by normalised mean \
        squared error against a bound per dtype. Fused ops are compared with their composition of \
        primitives. Exits with status 1 when a case fails; unsupported cases are listed, not failed.
        """)

    @Option(help: "Device to test: cuda or cpu (cpu checks its bf16/f16 and fused paths against the composed f32 oracle).")
    var device: DeviceChoice = .cuda

    @Option(help: "Only cases of this op (e.g. layerNorm); see --list.")
    var op: String?

    @Option(help: "Only cases of these dtypes, comma separated (f32,bf16,f16).")
    var dtype: String?

    @Option(help: "Seed of the random inputs.")
    var seed: UInt64 = 1

    @Option(name: .customLong("conv-engine"),
            help: "CUDA convolution engine: cudnn (the default: cuDNN where it applies, our kernels elsewhere), implicit, implicit-mma or im2col; the convolution cases run again on each engine below the chosen one (cudnn → implicit → implicit-mma on Hopper → im2col).")
    var convEngine: String = ConvolutionEngine.standard.rawValue

    @Option(name: .customLong("shared-memory-limit"),
            help: "CUDA: plan kernels for at most this many bytes of shared memory per block, to test on this GPU the paths a smaller one takes (101376: Ada's and consumer Ampere's 99 KiB; 166912: A100's 163 KiB).")
    var sharedMemoryLimit: Int?

    @OptionGroup var cudaKernels: CUDAKernelOption

    @Flag(help: "List the ops and case counts, run nothing.")
    var list = false

    @Flag(help: "Print only failing and unsupported cases and the summary.")
    var quiet = false

    func validate() throws {
        if let op, !OpCatalogue.opNames.contains(where: { $0.lowercased() == op.lowercased() }) {
            throw ValidationError("unknown --op '\(op)'; ops: \(OpCatalogue.opNames.joined(separator: ", "))")
        }
        _ = try dtypes()
        // The limit's own bounds are CUDABackend's to check.
        if sharedMemoryLimit != nil, device == .cpu { throw ValidationError("--shared-memory-limit applies to --device cuda only") }
        if cudaKernels.kernels != .standard, device == .cpu { throw ValidationError("--cuda-kernels applies to --device cuda only") }
    }

    func dtypes() throws -> Set<DType> {
        guard let dtype else { return [] }
        return Set(try dtype.split(separator: ",").map { name in
            guard let d = DType(name: String(name)) else { throw ValidationError("unknown --dtype '\(name)'") }
            return d
        })
    }

    func run() throws {
        let cases = OpCatalogue.cases(op: op, dtypes: try dtypes())
        if list {
            for name in OpCatalogue.opNames {
                print("\(name): \(OpCatalogue.all.filter { $0.op == name }.count) cases")
            }
            return
        }
        let backend: any Backend
        switch device {
        case .cpu: backend = CPUBackend()
        case .cuda, .auto:
            guard let engine = ConvolutionEngine(rawValue: convEngine) else {
                throw ValidationError("--conv-engine must be one of \(ConvolutionEngine.allCases.map(\.rawValue).joined(separator: ", ")), got '\(convEngine)'")
            }
            backend = try openCUDA(engine)
        }
        print("test-backend on \(backend.name): \(cases.count) cases, seed \(seed)")
        let gpu = backend as? CUDABackend
        if let gpu {
            print("convolutions: \(gpu.convolutionSummary)")
            if sharedMemoryLimit != nil { print("shared memory per block planned for: \(gpu.maxSharedMemoryPerBlock) bytes") }
            if gpu.kernelSet != .standard { print("kernels: \(gpu.kernelSet.rawValue) (CUDAKernelSet: also those awaiting their first GPU run)") }
        }
        var counts = (passed: 0, failed: 0, unsupported: 0)
        var unsupportedOps: [String: Int] = [:]
        let started = Date()
        run(cases, on: backend, label: "", counts: &counts, unsupportedOps: &unsupportedOps)
        // The convolution cases run again on the im2col engine (the composition the implicit GEMM and
        // cuDNN replace), so both paths are checked against the CPU.
        let convolutionCases = cases.filter { Self.convolutionOps.contains($0.op) }
        if let gpu, gpu.convolutionEngine != .im2col, !convolutionCases.isEmpty {
            let runs = gpu.convolutionRuns
            print("convolutions: \(runs.cudnn) on cuDNN, \(runs.implicit) as implicit GEMM, \(runs.im2col) on im2col")
            for why in gpu.cudnnRefusals { print("  cuDNN refused: \(why)") }
            // On Hopper the implicit engine runs the wgmma kernel where it applies: the mma.sync kernel
            // it replaces there is checked as its own engine.
            var others: [ConvolutionEngine] = [.im2col]
            if [.cudnn, .implicit].contains(gpu.convolutionEngine), gpu.computeCapability == (9, 0) { others.insert(.implicitMMA, at: 0) }
            if gpu.convolutionEngine == .cudnn, gpu.usesCudnn { others.insert(.implicit, at: 0) }
            for other in others {
                let again = try openCUDA(other)
                print("again on the \(other.rawValue) engine: \(convolutionCases.count) convolution cases")
                run(convolutionCases, on: again, label: " [\(other.rawValue)]", counts: &counts, unsupportedOps: &unsupportedOps)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(printf: "\(counts.passed) passed, \(counts.failed) failed, \(counts.unsupported) not supported (%.1f s)", seconds))
        if !unsupportedOps.isEmpty {
            print("not supported on \(device.rawValue): " + unsupportedOps.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", "))
        }
        if counts.failed > 0 { throw ExitCode(1) }
    }
}

extension TestBackendCommand {
    /// The CUDA backend the catalogue runs on: new buffers poisoned with NaN and guarded, `engine` for
    /// the convolutions, kernels planned for `--shared-memory-limit`, candidate kernels with `--cuda-kernels candidate`.
    func openCUDA(_ engine: ConvolutionEngine) throws -> CUDABackend {
        do {
            return try CUDABackend(fillNewBuffersWith: 0xFF, guardBytes: 256, convolutionEngine: engine,
                                   sharedMemoryLimit: sharedMemoryLimit, kernelSet: cudaKernels.kernels)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Ops whose cases also run on the im2col engine when cuDNN is in use.
    static let convolutionOps: Set<String> = ["conv3d", "conv2d"]

    /// Runs `cases` on `backend`, printing a line per case (failures always) and counting outcomes.
    func run(_ cases: [OpCase], on backend: any Backend, label: String,
             counts: inout (passed: Int, failed: Int, unsupported: Int), unsupportedOps: inout [String: Int]) {
        let runner = OpCaseRunner(backend: backend, seed: seed, widenReference: backend is CPUBackend)
        for c in cases {
            guard runner.isInformative(c) else { continue }   // the CPU's f32 path is the oracle itself
            let r = runner.run(c)
            let nmse = r.nmse.map { String(printf: "%.2e", $0) } ?? "-"
            let line = "\(c.op.padded(to: 22)) \(c.dtype.rawValue.padded(to: 5)) "
                + "nmse \(nmse.padded(to: 9)) bound \(String(printf: "%.0e", c.bound))  "
            switch r.status {
            case .passed:
                counts.passed += 1
                if !quiet { print(line + "ok      \(c.variant)\(label)") }
            case .failed(let why), .referenceError(let why):
                counts.failed += 1
                print(line + "FAILED  \(c.variant)\(label): \(why)")
            case .unsupported(let why):
                counts.unsupported += 1
                unsupportedOps[c.op, default: 0] += 1
                if !quiet { print(line + "n/s     \(c.variant)\(label): \(why)") }
            }
        }
    }
}

extension CUDABackend: OutputGuardChecking {}
