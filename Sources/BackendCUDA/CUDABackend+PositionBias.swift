import TensorCore

/// T5's relative position bias expanded on the device (`td_relative_bias`, Kernels/layout.cu): the
/// host uploads [H, 2L − 1] values instead of building and uploading [H, L, L] per block.
extension CUDABackend: PositionBiasBackend {
    public func expandRelativeBias(_ byDistance: Tensor, keep: Tensor?, maskValue: Float) throws -> Tensor {
        _ = try deviceBuffer(byDistance, "expandRelativeBias")
        if let keep { _ = try deviceBuffer(keep, "expandRelativeBias keep") }
        try activate()
        let (heads, l) = try RelativeBiasExpansion.geometry(byDistance, keep: keep)
        guard [DType.f32, .bf16, .f16].contains(byDistance.dtype) else {
            throw TensorError.unsupported("expandRelativeBias of \(byDistance.dtype) on CUDA (f32, bf16, f16)")
        }
        guard heads <= Int(Int32.max), l <= Int(Int32.max) / 2 else {
            throw TensorError.unsupported("expandRelativeBias of \(byDistance.shape) exceeds the kernel's 32-bit sizes")
        }
        let out = try empty([heads, l, l], dtype: byDistance.dtype)
        guard out.count > 0 else { return out }
        let source = byDistance.isContiguous ? byDistance : try contiguous(byDistance)
        let mask = try keep.map { $0.isContiguous ? $0 : try contiguous($0) }
        let (grid, block) = elementwiseGrid(out.count)
        try launch(.layout, "td_relative_bias", grid: grid, block: block, [
            .pointer(try address(out)), .pointer(try address(source)), .pointer(try mask.map { try address($0) } ?? 0),
            .int32(Int32(byDistance.dtype.byteSize)), .int64(Int64(bitPattern: Self.fillBits(maskValue, byDistance.dtype))),
            .int32(Int32(heads)), .int32(Int32(l)),
        ])
        return out
    }
}
