import ArgumentParser
import BackendCPU
import BackendCUDA
import TensorCore

/// Where a command computes. Only executables choose a backend.
enum DeviceChoice: String, ExpressibleByArgument, CaseIterable {
    /// CUDA when a device can be opened, else the CPU (saying why in one line).
    case auto
    case cpu, cuda

    func makeBackend() throws -> any Backend {
        switch self {
        case .cpu:
            return CPUBackend()
        case .cuda:
            do {
                return try CUDABackend()
            } catch {
                throw ValidationError("\(error)\nRun with --device cpu to compute on the CPU instead.")
            }
        case .auto:
            if let reason = CUDABackend.unavailableReason {
                logLine("note: computing on the CPU: \(Self.firstLine(reason))")
                return CPUBackend()
            }
            return try CUDABackend()
        }
    }

    /// The first line of a multi-line reason, without the "CUDA is not available: " lead.
    static func firstLine(_ reason: String) -> String {
        let line = reason.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? reason
        return line.hasPrefix("CUDA is not available: ") ? "no usable CUDA device (" + line.dropFirst(23) + ")" : line
    }
}

/// Compute types a user may ask for.
enum ComputeType: String, ExpressibleByArgument, CaseIterable {
    case f32, bf16
    var dtype: DType { self == .f32 ? .f32 : .bf16 }
}
