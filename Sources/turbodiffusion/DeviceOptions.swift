import ArgumentParser
import BackendCPU
import BackendCUDA
import TensorCore

/// Where a command computes. Only executables choose a backend (DESIGN §2).
enum DeviceChoice: String, ExpressibleByArgument, CaseIterable {
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
        }
    }
}

/// Compute types a user may ask for.
enum ComputeType: String, ExpressibleByArgument, CaseIterable {
    case f32, bf16
    var dtype: DType { self == .f32 ? .f32 : .bf16 }
}
