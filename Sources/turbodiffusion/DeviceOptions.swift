import ArgumentParser
import BackendCPU
import BackendCUDA
import TensorCore

/// Where a command computes. Only executables choose a backend.
enum DeviceChoice: String, ExpressibleByArgument, CaseIterable {
    /// CUDA when a device can be opened, else the CPU (saying why in one line).
    case auto
    case cpu, cuda

    /// `convolutionEngine` and `kernels` matter on CUDA only (commands that compare engines or verify
    /// candidate kernels expose them).
    func makeBackend(convolutionEngine: ConvolutionEngine = .standard, kernels: CUDAKernelSet = .standard) throws -> any Backend {
        switch self {
        case .cpu:
            return CPUBackend()
        case .cuda:
            do {
                return try Self.opened(CUDABackend(convolutionEngine: convolutionEngine, kernelSet: kernels))
            } catch {
                throw ValidationError("\(error)\nRun with --device cpu to compute on the CPU instead.")
            }
        case .auto:
            // One attempt: the error of a failed open is the reason (no separate availability probe).
            do {
                return try Self.opened(CUDABackend(convolutionEngine: convolutionEngine, kernelSet: kernels))
            } catch {
                logLine("note: computing on the CPU: \(Self.firstLine("\(error)"))")
                return CPUBackend()
            }
        }
    }

    /// CUDA backends this process opened, for memory reports (progress lines, summaries).
    nonisolated(unsafe) static var openedCUDA: [CUDABackend] = []

    /// Records `b` and logs, once per backend, which engine runs its convolutions (and a kernel set other than
    /// the standard one).
    static func opened(_ b: CUDABackend) -> CUDABackend {
        openedCUDA.append(b)
        logLine("convolutions: \(b.convolutionSummary)")
        if b.kernelSet != .standard { logLine("CUDA kernels: \(b.kernelSet.rawValue) (also those awaiting their first GPU run)") }
        return b
    }

    /// The first sentence of a reason, without the error-kind and "CUDA is not available" leads:
    /// "no usable CUDA device (the NVIDIA driver library libcuda.so.1 could not be loaded)".
    static func firstLine(_ reason: String) -> String {
        var line = reason.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? reason
        if let r = line.firstRange(of: "CUDA is not available: ") { line = String(line[r.upperBound...]) }
        if let r = line.firstRange(of: ". ") { line = String(line[..<r.lowerBound]) }
        return "no usable CUDA device (\(line))"
    }
}

extension ConvolutionEngine: ExpressibleByArgument {}
extension CUDAKernelSet: ExpressibleByArgument {}

/// `--cuda-kernels`, for the commands that verify or time candidate kernels (CUDAKernelSet).
struct CUDAKernelOption: ParsableArguments {
    @Option(name: .customLong("cuda-kernels"),
            help: "standard (kernels verified on a GPU) or candidate (also those awaiting their first GPU run: 192-row W8A8 tiles on Hopper, a warp per row for row norms).")
    var kernels: CUDAKernelSet = .standard
}

/// Compute types a user may ask for.
enum ComputeType: String, ExpressibleByArgument, CaseIterable {
    case f32, bf16
    var dtype: DType { self == .f32 ? .f32 : .bf16 }
}
