/// DEFLATE (RFC 1951) and zlib (RFC 1950) decompression, written for PNG: no system zlib is needed,
/// so the module builds the same on every machine and in static executables.
enum Inflate {
    /// Decompresses a zlib stream (2-byte header, deflate data, Adler-32 trailer).
    /// `sizeHint` pre-sizes the output; `limit` bounds it (a PNG knows its exact decoded size).
    static func zlib(_ data: [UInt8], sizeHint: Int = 0, limit: Int = Int.max) throws -> [UInt8] {
        guard data.count >= 2 else { throw DecodeFailure.malformed("zlib stream shorter than its header") }
        let cmf = data[0], flg = data[1]
        guard cmf & 0x0F == 8 else {
            throw DecodeFailure.unsupported("zlib compression method \(cmf & 0x0F) (only deflate, 8, exists)")
        }
        guard cmf >> 4 <= 7 else { throw DecodeFailure.malformed("zlib window size field \(cmf >> 4) > 7") }
        guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else {
            throw DecodeFailure.malformed("zlib header check bits are wrong")
        }
        guard flg & 0x20 == 0 else { throw DecodeFailure.unsupported("zlib preset dictionary") }
        var reader = BitReader(data, start: 2)
        let out = try inflate(&reader, sizeHint: sizeHint, limit: limit)
        // The Adler-32 trailer follows the last block, byte aligned.
        reader.alignToByte()
        guard let trailer = reader.takeBytes(4) else {
            throw DecodeFailure.malformed("zlib stream ends before its Adler-32 checksum")
        }
        let stored = trailer.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard stored == Adler32.checksum(out) else {
            throw DecodeFailure.malformed("zlib Adler-32 checksum mismatch (data corrupted)")
        }
        return out
    }

    /// Decompresses raw deflate blocks up to and including the final one.
    static func inflate(_ r: inout BitReader, sizeHint: Int, limit: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(min(sizeHint, limit))
        var final = false
        while !final {
            final = try r.bits(1) == 1
            switch try r.bits(2) {
            case 0: try stored(&r, &out, limit: limit)
            case 1: try codes(&r, &out, lit: fixedLit, dist: fixedDist, limit: limit)
            case 2:
                let (lit, dist) = try dynamicTables(&r)
                try codes(&r, &out, lit: lit, dist: dist, limit: limit)
            default: throw DecodeFailure.malformed("deflate block type 3 (reserved)")
            }
        }
        return out
    }

    private static func stored(_ r: inout BitReader, _ out: inout [UInt8], limit: Int) throws {
        r.alignToByte()
        guard let header = r.takeBytes(4) else { throw DecodeFailure.malformed("deflate stream cut in a stored block") }
        let len = Int(header[0]) | Int(header[1]) << 8
        let nlen = Int(header[2]) | Int(header[3]) << 8
        guard len == ~nlen & 0xFFFF else { throw DecodeFailure.malformed("deflate stored block length check fails") }
        guard out.count + len <= limit else { throw DecodeFailure.malformed("decompressed data is longer than expected") }
        guard let bytes = r.takeBytes(len) else { throw DecodeFailure.malformed("deflate stream cut in a stored block") }
        out.append(contentsOf: bytes)
    }

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                     3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                  257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                   7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static let fixedLit: Huffman = {
        var lengths = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        return try! Huffman(lengths: lengths)
    }()
    static let fixedDist: Huffman = try! Huffman(lengths: [UInt8](repeating: 5, count: 30))

    private static func codes(_ r: inout BitReader, _ out: inout [UInt8], lit: Huffman, dist: Huffman,
                              limit: Int) throws {
        while true {
            let sym = try lit.decode(&r)
            if sym < 256 {
                guard out.count < limit else { throw DecodeFailure.malformed("decompressed data is longer than expected") }
                out.append(UInt8(sym))
                continue
            }
            if sym == 256 { return }
            let li = sym - 257
            guard li < 29 else { throw DecodeFailure.malformed("deflate length code \(sym) is invalid") }
            let length = lengthBase[li] + (try r.bits(lengthExtra[li]))
            let di = try dist.decode(&r)
            guard di < 30 else { throw DecodeFailure.malformed("deflate distance code \(di) is invalid") }
            let distance = distBase[di] + (try r.bits(distExtra[di]))
            guard distance <= out.count else {
                throw DecodeFailure.malformed("deflate back-reference reaches before the start of the data")
            }
            guard out.count + length <= limit else {
                throw DecodeFailure.malformed("decompressed data is longer than expected")
            }
            var from = out.count - distance
            for _ in 0..<length {  // may overlap itself: copy byte by byte
                out.append(out[from])
                from += 1
            }
        }
    }

    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static func dynamicTables(_ r: inout BitReader) throws -> (Huffman, Huffman) {
        let nlen = try r.bits(5) + 257, ndist = try r.bits(5) + 1, ncode = try r.bits(4) + 4
        guard nlen <= 286, ndist <= 30 else { throw DecodeFailure.malformed("deflate dynamic block has too many codes") }
        var clLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<ncode { clLengths[codeLengthOrder[i]] = UInt8(try r.bits(3)) }
        let cl = try Huffman(lengths: clLengths)
        var lengths = [UInt8]()
        lengths.reserveCapacity(nlen + ndist)
        while lengths.count < nlen + ndist {
            let sym = try cl.decode(&r)
            switch sym {
            case 0..<16: lengths.append(UInt8(sym))
            case 16:
                guard let last = lengths.last else { throw DecodeFailure.malformed("deflate repeat with no previous length") }
                lengths.append(contentsOf: repeatElement(last, count: 3 + (try r.bits(2))))
            case 17: lengths.append(contentsOf: repeatElement(0, count: 3 + (try r.bits(3))))
            default: lengths.append(contentsOf: repeatElement(0, count: 11 + (try r.bits(7))))
            }
        }
        guard lengths.count == nlen + ndist else { throw DecodeFailure.malformed("deflate code lengths overrun") }
        guard lengths[256] != 0 else { throw DecodeFailure.malformed("deflate block has no end-of-block code") }
        return (try Huffman(lengths: Array(lengths[0..<nlen])), try Huffman(lengths: Array(lengths[nlen...])))
    }
}

/// Reads a byte array least-significant bit first, as deflate packs it.
struct BitReader {
    let data: [UInt8]
    var pos: Int
    var buffer: UInt64 = 0
    var count = 0

    init(_ data: [UInt8], start: Int = 0) {
        self.data = data
        self.pos = start
    }

    @inline(__always)
    mutating func refill() {
        while count <= 56 && pos < data.count {
            buffer |= UInt64(data[pos]) << UInt64(count)
            pos += 1
            count += 8
        }
    }

    @inline(__always)
    mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        if count < n {
            refill()
            guard count >= n else { throw DecodeFailure.malformed("compressed data ends early") }
        }
        let v = Int(buffer & ((1 << UInt64(n)) - 1))
        buffer >>= UInt64(n)
        count -= n
        return v
    }

    mutating func alignToByte() {
        let drop = count % 8
        buffer >>= UInt64(drop)
        count -= drop
    }

    /// Byte-aligned read of `n` raw bytes (after `alignToByte`).
    mutating func takeBytes(_ n: Int) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(n)
        while out.count < n && count >= 8 {
            out.append(UInt8(buffer & 0xFF))
            buffer >>= 8
            count -= 8
        }
        let rest = n - out.count
        guard pos + rest <= data.count else { return nil }
        out.append(contentsOf: data[pos..<(pos + rest)])
        pos += rest
        return out
    }
}

/// A canonical Huffman code: a 9-bit lookup table for short codes, canonical walking for longer ones.
struct Huffman {
    static let fastBits = 9
    private var counts = [Int](repeating: 0, count: 16)
    private var symbols: [Int]
    /// Indexed by the next `fastBits` input bits: length << 12 | symbol, or 0 when the code is longer.
    private var fast = [UInt16](repeating: 0, count: 1 << fastBits)

    init(lengths: [UInt8]) throws {
        for l in lengths { counts[Int(l)] += 1 }
        counts[0] = 0
        var left = 1
        for len in 1..<16 {
            left = left << 1 - counts[len]
            guard left >= 0 else { throw DecodeFailure.malformed("deflate Huffman code is over-subscribed") }
        }
        var offsets = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
        symbols = [Int](repeating: 0, count: lengths.count)
        for (sym, l) in lengths.enumerated() where l != 0 {
            symbols[offsets[Int(l)]] = sym
            offsets[Int(l)] += 1
        }
        // Canonical codes in order; fill the fast table with each short code bit-reversed.
        var code = 0, index = 0
        for len in 1...15 {
            for _ in 0..<counts[len] {
                if len <= Self.fastBits {
                    var rev = 0
                    for b in 0..<len where code & (1 << b) != 0 { rev |= 1 << (len - 1 - b) }
                    let entry = UInt16(len << 12 | symbols[index])
                    var i = rev
                    while i < 1 << Self.fastBits {
                        fast[i] = entry
                        i += 1 << len
                    }
                }
                code += 1
                index += 1
            }
            code <<= 1
        }
    }

    @inline(__always)
    func decode(_ r: inout BitReader) throws -> Int {
        if r.count < 15 { r.refill() }
        let entry = fast[Int(r.buffer & UInt64((1 << Self.fastBits) - 1))]
        if entry != 0 {
            let len = Int(entry >> 12)
            guard len <= r.count else { throw DecodeFailure.malformed("compressed data ends early") }
            r.buffer >>= UInt64(len)
            r.count -= len
            return Int(entry & 0xFFF)
        }
        // Slow path: walk the canonical code one bit at a time.
        var code = 0, first = 0, index = 0
        for len in 1...15 {
            code |= try r.bits(1)
            let n = counts[len]
            if code - first < n { return symbols[index + code - first] }
            index += n
            first = (first + n) << 1
            code <<= 1
        }
        throw DecodeFailure.malformed("invalid deflate Huffman code")
    }
}
