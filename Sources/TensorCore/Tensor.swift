/// A strided view of typed elements in a device buffer. Dimension order is PyTorch's.
/// Views (reshape of contiguous data, permute, narrow, expand) share the buffer; strides and
/// offset are in elements. Values are read on the host only (`Backend.toHost`).
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let buffer: any DeviceBuffer
    public let dtype: DType
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int

    public init(buffer: any DeviceBuffer, dtype: DType, shape: [Int], strides: [Int]? = nil, offset: Int = 0) throws {
        let strides = strides ?? Tensor.contiguousStrides(shape)
        guard strides.count == shape.count else {
            throw TensorError.invalidArgument("\(shape.count) dimensions but \(strides.count) strides")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.invalidArgument("negative dimension in \(shape)") }
        guard offset >= 0 else { throw TensorError.invalidArgument("negative offset \(offset)") }
        // Bounds: the farthest element reached must lie inside the buffer.
        if !shape.contains(0) {
            var lo = offset, hi = offset
            for (n, s) in zip(shape, strides) {
                if s >= 0 { hi += (n - 1) * s } else { lo += (n - 1) * s }
            }
            guard lo >= 0, (hi + 1) * dtype.byteSize <= buffer.byteCount else {
                throw TensorError.invalidArgument(
                    "view \(shape) strides \(strides) offset \(offset) of \(dtype) exceeds a buffer of \(buffer.byteCount) bytes")
            }
        }
        self.buffer = buffer
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }

    public var device: Device { buffer.device }
    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteSize }

    /// True when elements are laid out densely in row-major order (size-1 dims ignored).
    public var isContiguous: Bool {
        var expected = 1
        for i in stride(from: rank - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    public var description: String { "Tensor(\(dtype), \(shape), \(device))" }

    /// Normalises a possibly negative dimension index.
    public func axis(_ d: Int) throws -> Int {
        let a = d < 0 ? d + rank : d
        guard a >= 0, a < rank else { throw TensorError.invalidArgument("dimension \(d) out of range for rank \(rank)") }
        return a
    }

    // MARK: Views

    /// Same elements, new shape (one entry may be -1). Requires a contiguous view.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var dims = newShape
        let unknown = dims.indices.filter { dims[$0] == -1 }
        guard unknown.count <= 1 else { throw TensorError.invalidArgument("reshape \(newShape): more than one -1") }
        let known = dims.filter { $0 != -1 }.reduce(1, *)
        if let u = unknown.first {
            guard known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch("cannot reshape \(shape) to \(newShape)")
            }
            dims[u] = count / known
        }
        guard dims.reduce(1, *) == count else { throw TensorError.shapeMismatch("cannot reshape \(shape) (\(count) elements) to \(newShape)") }
        guard isContiguous else { throw TensorError.invalidArgument("reshape of a non-contiguous view \(shape) strides \(strides); make it contiguous first") }
        return try Tensor(buffer: buffer, dtype: dtype, shape: dims, offset: offset)
    }

    public func permuted(_ order: [Int]) throws -> Tensor {
        guard order.count == rank, Set(order) == Set(0..<rank) else {
            throw TensorError.invalidArgument("permutation \(order) is not a permutation of 0..<\(rank)")
        }
        return try Tensor(buffer: buffer, dtype: dtype, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset)
    }

    public func transposed(_ a: Int, _ b: Int) throws -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(try axis(a), try axis(b))
        return try permuted(order)
    }

    /// Elements `start ..< start+length` along `dim`.
    public func narrowed(dim: Int, start: Int, length: Int) throws -> Tensor {
        let d = try axis(dim)
        guard start >= 0, length >= 0, start + length <= shape[d] else {
            throw TensorError.invalidArgument("narrow \(start)..<\(start + length) outside dimension \(d) of size \(shape[d])")
        }
        var s = shape
        s[d] = length
        return try Tensor(buffer: buffer, dtype: dtype, shape: s, strides: strides, offset: offset + start * strides[d])
    }

    /// Removes `dim` by fixing it to `index`.
    public func selected(dim: Int, index: Int) throws -> Tensor {
        let d = try axis(dim)
        guard index >= 0, index < shape[d] else { throw TensorError.invalidArgument("index \(index) outside dimension \(d) of size \(shape[d])") }
        var s = shape, st = strides
        s.remove(at: d)
        st.remove(at: d)
        return try Tensor(buffer: buffer, dtype: dtype, shape: s, strides: st, offset: offset + index * strides[d])
    }

    public func unsqueezed(_ dim: Int) throws -> Tensor {
        let d = dim < 0 ? dim + rank + 1 : dim
        guard d >= 0, d <= rank else { throw TensorError.invalidArgument("unsqueeze at \(dim) for rank \(rank)") }
        var s = shape, st = strides
        s.insert(1, at: d)
        st.insert(d < rank ? strides[d] * shape[d] : 1, at: d)
        return try Tensor(buffer: buffer, dtype: dtype, shape: s, strides: st, offset: offset)
    }

    public func squeezed(_ dim: Int) throws -> Tensor {
        let d = try axis(dim)
        guard shape[d] == 1 else { throw TensorError.invalidArgument("cannot squeeze dimension \(d) of size \(shape[d])") }
        var s = shape, st = strides
        s.remove(at: d)
        st.remove(at: d)
        return try Tensor(buffer: buffer, dtype: dtype, shape: s, strides: st, offset: offset)
    }

    /// Broadcasts to `target` (NumPy rules: leading dims added, size-1 dims repeated with stride 0).
    public func expanded(to target: [Int]) throws -> Tensor {
        guard target.count >= rank else { throw TensorError.shapeMismatch("cannot expand \(shape) to \(target)") }
        let lead = target.count - rank
        var st = [Int](repeating: 0, count: target.count)
        for i in 0..<rank {
            if shape[i] == target[lead + i] {
                st[lead + i] = strides[i]
            } else if shape[i] == 1 {
                st[lead + i] = 0
            } else {
                throw TensorError.shapeMismatch("cannot expand \(shape) to \(target)")
            }
        }
        return try Tensor(buffer: buffer, dtype: dtype, shape: target, strides: st, offset: offset)
    }

    /// The broadcast shape of two shapes (NumPy rules).
    public static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let x = i < n - a.count ? 1 : a[i - (n - a.count)]
            let y = i < n - b.count ? 1 : b[i - (n - b.count)]
            guard x == y || x == 1 || y == 1 else { throw TensorError.shapeMismatch("shapes \(a) and \(b) do not broadcast") }
            out[i] = x == 1 ? y : x
        }
        return out
    }
}
