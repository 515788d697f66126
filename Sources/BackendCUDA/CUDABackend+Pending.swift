import TensorCore

// Ops without a CUDA kernel yet. Each moves to its own file (CUDABackend+<Op>.swift beside
// Kernels/<op>.cu) when implemented; the groups are kept apart so they can be removed independently.
extension CUDABackend {
    // -- layout and normalisation
    public func concat(_ xs: [Tensor], dim: Int) throws -> Tensor { throw notImplemented("concat") }
    public func pad(_ x: Tensor, _ padding: [Padding], value: Float) throws -> Tensor { throw notImplemented("pad") }
    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor { throw notImplemented("layerNorm") }
    public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) throws -> Tensor { throw notImplemented("rmsNorm") }
    public func l2Norm(_ x: Tensor, dim: Int, gamma: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor { throw notImplemented("l2Norm") }
    public func rotary(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor { throw notImplemented("rotary") }
    public func upsampleNearest(_ x: Tensor, scaleH: Int, scaleW: Int) throws -> Tensor { throw notImplemented("upsampleNearest") }

    // -- attention

    public func attention(q: Tensor, k: Tensor, v: Tensor, scale: Float, bias: Tensor?) throws -> Tensor { throw notImplemented("attention") }
}

extension CUDABackend {
    /// The error for protocol ops that have no CUDA kernel yet.
    func notImplemented(_ op: String) -> TensorError {
        .unsupported("\(op) is not implemented on CUDA yet; use --device cpu")
    }
}
