/// Bounds-checked little-endian reads over a region of memory (usually a whole mapped file).
/// Every read validates its range first, with overflow-checked arithmetic, so hostile offsets
/// (near Int.max, negative after conversion) produce errors instead of traps.
struct ByteView {
    let bytes: UnsafeRawBufferPointer
    /// Names the region in error messages ("model.pth", "archive/data.pkl").
    let name: String

    var count: Int { bytes.count }

    /// True when `offset ..< offset+length` lies inside the region.
    func contains(_ offset: Int, _ length: Int) -> Bool {
        guard offset >= 0, length >= 0, offset <= count else { return false }
        return length <= count - offset
    }

    /// Throws (`kind`, default `.corrupt`) unless the range lies inside the region.
    func check(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String,
               kind: CheckpointError.Kind = .corrupt) throws {
        guard contains(offset, length) else {
            let end = offset.addingReportingOverflow(length)
            let endText = end.overflow ? "beyond Int.max" : "\(end.partialValue)"
            throw CheckpointError(kind, path: "",
                                  "\(what()) needs bytes \(offset)..<\(endText) but \(name) has only \(count) bytes")
        }
    }

    func u8(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt8 {
        try check(offset, 1, what())
        return bytes[offset]
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt16 {
        try check(offset, 2, what())
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt32 {
        try check(offset, 4, what())
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try check(offset, 8, what())
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A sub-region; its offsets restart at zero.
    func slice(_ offset: Int, _ length: Int, name: String, _ what: @autoclosure () -> String,
               kind: CheckpointError.Kind = .corrupt) throws -> ByteView {
        try check(offset, length, what(), kind: kind)
        return ByteView(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length]), name: name)
    }

    /// True when the region starts with `prefix`.
    func hasPrefix(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
        guard contains(offset, prefix.count) else { return false }
        for (i, b) in prefix.enumerated() where bytes[offset + i] != b { return false }
        return true
    }

    /// `count` bytes from `offset` as "89 50 4E 47" (clipped to the region).
    func hex(_ offset: Int = 0, count n: Int) -> String {
        guard offset >= 0, offset < count else { return "" }
        let end = min(count, offset + n)
        return bytes[offset ..< end].map { hexByte($0) }.joined(separator: " ")
    }
}

func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

/// Overflow-checked arithmetic for sizes read from files.
enum Checked {
    static func add(_ a: Int, _ b: Int) -> Int? {
        let r = a.addingReportingOverflow(b)
        return r.overflow ? nil : r.partialValue
    }

    static func mul(_ a: Int, _ b: Int) -> Int? {
        let r = a.multipliedReportingOverflow(by: b)
        return r.overflow ? nil : r.partialValue
    }

    /// Number of elements of `shape`, or nil when a dimension is negative or the product
    /// overflows (checked left to right, so a later zero does not hide an overflow).
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0, let m = mul(n, d) else { return nil }
            n = m
        }
        return n
    }

    /// One past the farthest element a strided view touches (0 for an empty view), or nil on
    /// negative values or overflow. Strides must be non-negative (PyTorch never saves others).
    static func viewExtent(shape: [Int], strides: [Int], offset: Int) -> Int? {
        guard shape.count == strides.count, offset >= 0 else { return nil }
        guard let n = elementCount(shape) else { return nil }
        if n == 0 { return 0 }
        var far = offset
        for (d, s) in zip(shape, strides) {
            guard s >= 0, let step = mul(d - 1, s), let f = add(far, step) else { return nil }
            far = f
        }
        return add(far, 1)
    }
}

/// CRC-32 (IEEE 802.3, as used by zip).
enum CRC32 {
    static let table: [UInt32] = (0 ..< 256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0 ..< 8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
