/// JPEG entropy decoding (ITU T.81 Annex F and G): Huffman tables, the marker-aware bit reader,
/// and the block decoders for baseline, progressive DC/AC first and refinement scans.

/// The zig-zag scan: `zigzag[k]` is the natural (row-major) index of the k-th coefficient.
let jpegZigzag: [Int] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]

struct JPEGHuffman {
    static let lookupBits = 9
    /// Indexed by the next 9 bits: length << 8 | value, or 0 when the code is longer than 9 bits.
    private var lookup = [UInt16](repeating: 0, count: 1 << lookupBits)
    /// maxCode[l]: the largest code of length l (-1 if none); valOffset[l]: index into `values` minus the first code.
    private var maxCode = [Int](repeating: -1, count: 18)
    private var valOffset = [Int](repeating: 0, count: 17)
    private var values: [UInt8]

    /// `counts[i]`: number of codes of length i + 1 (16 entries); `values`: symbols in code order.
    init(counts: [Int], values: [UInt8]) throws {
        self.values = values
        var code = 0, k = 0
        for len in 1...16 {
            let n = counts[len - 1]
            valOffset[len] = k - code
            guard code + n <= 1 << len else { throw DecodeFailure.malformed("Huffman table is over-subscribed") }
            if n > 0 {
                for _ in 0..<n {
                    if len <= Self.lookupBits {
                        let shift = Self.lookupBits - len
                        let entry = UInt16(len << 8) | UInt16(values[k])
                        for fill in 0..<(1 << shift) { lookup[(code << shift) | fill] = entry }
                    }
                    code += 1
                    k += 1
                }
                maxCode[len] = code - 1
            }
            code <<= 1
        }
        maxCode[17] = Int.max  // sentinel
    }

    @inline(__always)
    func decode(_ r: inout JPEGBitReader) throws -> Int {
        r.ensure(16)
        let peek = Int(r.peek(Self.lookupBits))
        let entry = lookup[peek]
        if entry != 0 {
            try r.skip(Int(entry >> 8))
            return Int(entry & 0xFF)
        }
        var len = Self.lookupBits + 1
        var code = Int(r.peek(len))
        while len <= 16 && code > maxCode[len] {
            len += 1
            code = Int(r.peek(len))
        }
        guard len <= 16 else { throw DecodeFailure.malformed("invalid Huffman code in entropy-coded data") }
        try r.skip(len)
        let index = valOffset[len] + code
        guard index >= 0 && index < values.count else { throw DecodeFailure.malformed("invalid Huffman code") }
        return Int(values[index])
    }
}

/// Reads entropy-coded bytes most-significant bit first, removing 0xFF00 stuffing and stopping at
/// markers. Past a marker it supplies zero bits, as libjpeg does; consuming bits past the end of the
/// file means the file was cut short, which is an error.
struct JPEGBitReader {
    let data: [UInt8]
    var pos: Int
    private var buffer: UInt64 = 0
    private var count = 0
    private var padding = 0
    /// The marker (second byte) that stopped the reader; `pos` then points at its 0xFF.
    private(set) var marker: UInt8?
    private(set) var hitEOF = false

    init(_ data: [UInt8], start: Int) {
        self.data = data
        self.pos = start
    }

    @inline(__always)
    mutating func ensure(_ n: Int) {
        while count < n { fillByte() }
    }

    private mutating func fillByte() {
        var byte: UInt8 = 0
        if marker == nil && !hitEOF {
            if pos >= data.count {
                hitEOF = true
            } else if data[pos] != 0xFF {
                byte = data[pos]
                pos += 1
            } else if pos + 1 < data.count && data[pos + 1] == 0x00 {
                byte = 0xFF
                pos += 2
            } else {
                var p = pos + 1
                while p < data.count && data[p] == 0xFF { p += 1 }  // fill bytes before a marker
                if p >= data.count { hitEOF = true } else { marker = data[p]; pos = p - 1 }
            }
            if marker == nil && !hitEOF {
                buffer |= UInt64(byte) << UInt64(56 - count)
                count += 8
                return
            }
        }
        padding += 8
        count += 8  // zero bits
    }

    @inline(__always)
    func peek(_ n: Int) -> UInt64 { buffer >> UInt64(64 - n) }

    @inline(__always)
    mutating func skip(_ n: Int) throws {
        buffer <<= UInt64(n)
        count -= n
        if count < padding {
            if hitEOF { throw DecodeFailure.malformed("the file ends inside entropy-coded data (truncated)") }
            padding = count  // past a marker: keep supplying zeros (corrupt data, decoded like libjpeg)
        }
    }

    @inline(__always)
    mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        ensure(n)
        let v = Int(peek(n))
        try skip(n)
        return v
    }

    /// receive + extend (F.2.2.1): `n` bits as a signed coefficient difference.
    @inline(__always)
    mutating func signed(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        let v = try bits(n)
        return v < 1 << (n - 1) ? v - (1 << n) + 1 : v
    }

    /// Discards buffered bits and consumes the restart marker that must come next.
    mutating func restart(expected: Int) throws {
        buffer = 0
        count = 0
        padding = 0
        if marker == nil {
            // The marker has not been reached yet: skip to it (an encoder may pad with 1-bits).
            var p = pos
            while p + 1 < data.count && !(data[p] == 0xFF && data[p + 1] != 0 && data[p + 1] != 0xFF) { p += 1 }
            guard p + 1 < data.count else {
                throw DecodeFailure.malformed("the file ends before restart marker RST\(expected) (truncated)")
            }
            marker = data[p + 1]
            pos = p
        }
        guard let m = marker, m >= 0xD0 && m <= 0xD7 else {
            throw DecodeFailure.malformed("expected restart marker RST\(expected), found 0xFF\(hex(marker ?? 0))")
        }
        pos += 2
        marker = nil
    }

    /// Position of the first marker after the scan (the reader's stop point or the next one found).
    func nextMarkerPosition() -> Int? {
        if marker != nil { return pos }
        var p = pos
        while p + 1 < data.count {
            if data[p] == 0xFF && data[p + 1] != 0 && data[p + 1] != 0xFF && !(0xD0...0xD7).contains(data[p + 1]) {
                return p
            }
            p += 1
        }
        return nil
    }
}

func hex(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
}

/// Per-scan decoding state shared by the block decoders.
struct JPEGScanState {
    var reader: JPEGBitReader
    var eobrun = 0
    let ss: Int, se: Int, ah: Int, al: Int

    /// Sequential (baseline/extended) block: DC difference and all 63 AC coefficients.
    mutating func decodeBaseline(_ block: UnsafeMutablePointer<Int16>, dcPred: inout Int,
                                 dc: JPEGHuffman, ac: JPEGHuffman) throws {
        let t = try dc.decode(&reader)
        guard t <= 16 else { throw DecodeFailure.malformed("DC difference category \(t) > 16") }
        dcPred += try reader.signed(t)
        block[0] = Int16(truncatingIfNeeded: dcPred)
        var k = 1
        while k < 64 {
            let rs = try ac.decode(&reader)
            let r = rs >> 4, s = rs & 15
            if s == 0 {
                if r != 15 { break }
                k += 16
                continue
            }
            k += r
            guard k < 64 else { throw DecodeFailure.malformed("AC coefficient index past 63") }
            block[jpegZigzag[k]] = Int16(truncatingIfNeeded: try reader.signed(s))
            k += 1
        }
    }

    /// Progressive DC scan, first pass (G.1.2.1) or refinement (one bit, G.1.2.2).
    mutating func decodeDC(_ block: UnsafeMutablePointer<Int16>, dcPred: inout Int, dc: JPEGHuffman?) throws {
        if ah == 0 {
            guard let dc else { throw DecodeFailure.malformed("DC scan uses an undefined Huffman table") }
            let t = try dc.decode(&reader)
            guard t <= 16 else { throw DecodeFailure.malformed("DC difference category \(t) > 16") }
            dcPred += try reader.signed(t)
            block[0] = Int16(truncatingIfNeeded: dcPred << al)
        } else if try reader.bits(1) == 1 {
            block[0] |= Int16(truncatingIfNeeded: 1 << al)
        }
    }

    /// Progressive AC scan, first pass (G.1.2.2): one spectral band, with end-of-band runs.
    mutating func decodeACFirst(_ block: UnsafeMutablePointer<Int16>, ac: JPEGHuffman) throws {
        if eobrun > 0 {
            eobrun -= 1
            return
        }
        var k = ss
        while k <= se {
            let rs = try ac.decode(&reader)
            let r = rs >> 4, s = rs & 15
            if s == 0 {
                if r < 15 {
                    eobrun = (1 << r) - 1 + (try reader.bits(r))
                    return
                }
                k += 16
                continue
            }
            k += r
            guard k <= se else { throw DecodeFailure.malformed("AC coefficient index past the scan's band") }
            block[jpegZigzag[k]] = Int16(truncatingIfNeeded: (try reader.signed(s)) * (1 << al))
            k += 1
        }
    }

    /// Progressive AC refinement (G.1.2.3): one more bit of every nonzero coefficient, new ±1 coefficients.
    mutating func decodeACRefine(_ block: UnsafeMutablePointer<Int16>, ac: JPEGHuffman) throws {
        let p1 = 1 << al, m1 = -1 << al
        var k = ss
        @inline(__always) func refine(_ z: Int) throws {
            if try reader.bits(1) == 1 {
                let c = Int(block[z])
                if c & p1 == 0 { block[z] = Int16(truncatingIfNeeded: c >= 0 ? c + p1 : c + m1) }
            }
        }
        if eobrun == 0 {
            while k <= se {
                let rs = try ac.decode(&reader)
                var r = rs >> 4
                let s = rs & 15
                var value = 0
                if s != 0 {
                    guard s == 1 else { throw DecodeFailure.malformed("AC refinement coefficient size \(s) != 1") }
                    value = try reader.bits(1) == 1 ? p1 : m1
                } else if r != 15 {
                    eobrun = (1 << r) + (try reader.bits(r))
                    break
                }
                // Skip r zero-history coefficients (refining nonzero ones on the way); stop on the next zero.
                while k <= se {
                    let z = jpegZigzag[k]
                    if block[z] != 0 {
                        try refine(z)
                    } else {
                        if r == 0 { break }
                        r -= 1
                    }
                    k += 1
                }
                if value != 0 {
                    guard k <= se else { throw DecodeFailure.malformed("AC refinement runs past the band") }
                    block[jpegZigzag[k]] = Int16(value)
                }
                k += 1
            }
        }
        if eobrun > 0 {
            while k <= se {
                let z = jpegZigzag[k]
                if block[z] != 0 { try refine(z) }
                k += 1
            }
            eobrun -= 1
        }
    }
}
