import TensorCore

/// A strided matrix operand: element (r, c) is at base + (r*rowStride + c*colStride) elements of `dtype`.
/// Strides are in elements (not bytes) and may be any value, including 0 (broadcast) or negative.
public struct MatrixOperand {
    public var base: UnsafeRawPointer
    /// .f32, .bf16 or .f16; narrow types are widened to f32 while packing.
    public var dtype: DType
    public var rowStride: Int
    public var colStride: Int

    public init(base: UnsafeRawPointer, dtype: DType, rowStride: Int, colStride: Int) {
        precondition(dtype == .f32 || dtype == .bf16 || dtype == .f16,
                     "CPUGemm operands must be f32, bf16 or f16, not \(dtype)")
        self.base = base
        self.dtype = dtype
        self.rowStride = rowStride
        self.colStride = colStride
    }

    /// Element (r, c) widened to Float. Slow path for tests and edge handling.
    @inline(__always)
    func element(_ r: Int, _ c: Int) -> Float {
        let i = r &* rowStride &+ c &* colStride
        switch dtype {
        case .f32: return base.assumingMemoryBound(to: Float.self)[i]
        case .bf16: return BF16.float(base.assumingMemoryBound(to: UInt16.self)[i])
        default: return FP16.float(base.assumingMemoryBound(to: UInt16.self)[i])
        }
    }

    /// The transposed view (rows ↔ columns); no data moves.
    public var transposed: MatrixOperand {
        MatrixOperand(base: base, dtype: dtype, rowStride: colStride, colStride: rowStride)
    }
}
