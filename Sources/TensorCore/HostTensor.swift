/// Host-side construction and readback. These touch memory directly, so they only accept
/// tensors whose buffer is a `HostBuffer` (use `Backend.toHost` first for device tensors).

/// Reads element `index` (in elements from the buffer start) of `dtype` as Float.
@inlinable @inline(__always)
public func loadFloat(_ base: UnsafeRawPointer, _ index: Int, _ dtype: DType) -> Float {
    switch dtype {
    case .f32: return base.load(fromByteOffset: index &* 4, as: Float.self)
    case .bf16: return BF16.float(base.load(fromByteOffset: index &* 2, as: UInt16.self))
    case .f16: return FP16.float(base.load(fromByteOffset: index &* 2, as: UInt16.self))
    case .fp8e4m3: return FP8E4M3.float(base.load(fromByteOffset: index, as: UInt8.self))
    case .i8: return Float(base.load(fromByteOffset: index, as: Int8.self))
    case .u8: return Float(base.load(fromByteOffset: index, as: UInt8.self))
    case .i32: return Float(base.load(fromByteOffset: index &* 4, as: Int32.self))
    case .i64: return Float(base.load(fromByteOffset: index &* 8, as: Int64.self))
    }
}

/// Writes `value` as element `index` of `dtype`, rounding like PyTorch's casts
/// (nearest-even for floats; integers truncate toward zero and wrap as C casts do).
@inlinable @inline(__always)
public func storeFloat(_ value: Float, _ base: UnsafeMutableRawPointer, _ index: Int, _ dtype: DType) {
    switch dtype {
    case .f32: base.storeBytes(of: value, toByteOffset: index &* 4, as: Float.self)
    case .bf16: base.storeBytes(of: BF16.bits(value), toByteOffset: index &* 2, as: UInt16.self)
    case .f16: base.storeBytes(of: FP16.bits(value), toByteOffset: index &* 2, as: UInt16.self)
    case .fp8e4m3: base.storeBytes(of: FP8E4M3.bits(value), toByteOffset: index, as: UInt8.self)
    case .i8: base.storeBytes(of: Int8(truncatingIfNeeded: Int(exactly: value.rounded(.towardZero)) ?? 0), toByteOffset: index, as: Int8.self)
    case .u8: base.storeBytes(of: UInt8(truncatingIfNeeded: Int(exactly: value.rounded(.towardZero)) ?? 0), toByteOffset: index, as: UInt8.self)
    case .i32: base.storeBytes(of: Int32(truncatingIfNeeded: Int(exactly: value.rounded(.towardZero)) ?? 0), toByteOffset: index &* 4, as: Int32.self)
    case .i64: base.storeBytes(of: Int64(exactly: value.rounded(.towardZero)) ?? 0, toByteOffset: index &* 8, as: Int64.self)
    }
}

/// Calls `body(linearIndex, elementOffset)` for every element of a strided view in row-major order.
@inlinable
public func forEachStridedOffset(shape: [Int], strides: [Int], offset: Int, _ body: (Int, Int) -> Void) {
    let n = shape.reduce(1, *)
    if n == 0 { return }
    let rank = shape.count
    if rank == 0 { body(0, offset); return }
    var idx = [Int](repeating: 0, count: rank)
    var off = offset
    let last = rank - 1
    let lastStride = strides[last], lastCount = shape[last]
    var linear = 0
    while linear < n {
        var o = off
        for _ in 0..<lastCount {
            body(linear, o)
            linear += 1
            o += lastStride
        }
        // Carry into the outer dimensions.
        var d = last - 1
        while d >= 0 {
            idx[d] += 1
            off += strides[d]
            if idx[d] < shape[d] { break }
            off -= strides[d] * shape[d]
            idx[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// The host buffer behind this tensor, or an error naming the device it lives on.
    public func hostBuffer() throws -> HostBuffer {
        guard let hb = buffer as? HostBuffer else {
            throw TensorError.invalidArgument("tensor on \(device) must be copied to the host before reading it")
        }
        return hb
    }

    /// A new contiguous host tensor with uninitialised contents.
    public static func hostEmpty(_ shape: [Int], dtype: DType = .f32) throws -> Tensor {
        let n = shape.reduce(1, *)
        return try Tensor(buffer: HostBuffer(byteCount: n * dtype.byteSize), dtype: dtype, shape: shape)
    }

    /// A host tensor holding `values` converted to `dtype`.
    public static func host(_ values: [Float], shape: [Int], dtype: DType = .f32) throws -> Tensor {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError.shapeMismatch("\(values.count) values for shape \(shape)")
        }
        let t = try hostEmpty(shape, dtype: dtype)
        let p = try t.hostBuffer().base
        for (i, v) in values.enumerated() { storeFloat(v, p, i, dtype) }
        return t
    }

    /// A host i64 tensor (token ids and the like).
    public static func host(int64 values: [Int64], shape: [Int]) throws -> Tensor {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError.shapeMismatch("\(values.count) values for shape \(shape)")
        }
        let t = try hostEmpty(shape, dtype: .i64)
        let p = try t.hostBuffer().base
        values.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return t
    }

    /// All elements in row-major order, converted to Float. Host tensors only.
    public func floats() throws -> [Float] {
        let p = UnsafeRawPointer(try hostBuffer().base)
        var out = [Float](repeating: 0, count: count)
        let dt = dtype
        out.withUnsafeMutableBufferPointer { o in
            forEachStridedOffset(shape: shape, strides: strides, offset: offset) { i, e in
                o[i] = loadFloat(p, e, dt)
            }
        }
        return out
    }

    /// All elements as Int64 (integer dtypes; floats are truncated). Host tensors only.
    public func int64s() throws -> [Int64] {
        let p = UnsafeRawPointer(try hostBuffer().base)
        var out = [Int64](repeating: 0, count: count)
        let dt = dtype
        forEachStridedOffset(shape: shape, strides: strides, offset: offset) { i, e in
            switch dt {
            case .i64: out[i] = p.load(fromByteOffset: e * 8, as: Int64.self)
            case .i32: out[i] = Int64(p.load(fromByteOffset: e * 4, as: Int32.self))
            case .i8: out[i] = Int64(p.load(fromByteOffset: e, as: Int8.self))
            case .u8: out[i] = Int64(p.load(fromByteOffset: e, as: UInt8.self))
            default: out[i] = Int64(loadFloat(p, e, dt))
            }
        }
        return out
    }

    /// The raw bytes of a contiguous host tensor.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard isContiguous else { throw TensorError.invalidArgument("raw bytes of a non-contiguous view") }
        let hb = try hostBuffer()
        return try body(UnsafeRawBufferPointer(start: hb.base + offset * dtype.byteSize, count: byteCount))
    }
}
