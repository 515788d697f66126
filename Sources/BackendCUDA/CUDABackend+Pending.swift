import TensorCore

// Ops without a CUDA kernel yet. Each moves to its own file (CUDABackend+<Op>.swift beside
// Kernels/<op>.cu) when implemented; the groups are kept apart so they can be removed independently.
extension CUDABackend {
    // -- convolution

    public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        throw notImplemented("conv3d")
    }
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Padding]) throws -> Tensor {
        throw notImplemented("conv2d")
    }
}

extension CUDABackend {
    /// The error for protocol ops that have no CUDA kernel yet.
    func notImplemented(_ op: String) -> TensorError {
        .unsupported("\(op) is not implemented on CUDA yet; use --device cpu")
    }
}
