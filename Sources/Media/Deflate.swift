/// A small zlib compressor for writing PNG: LZ77 with hash chains, emitted as one fixed-Huffman
/// deflate block (RFC 1951 §3.2.6). Ratios are a bit below zlib's level 6, which is fine for frames.
enum Deflate {
    private static let windowSize = 32768
    private static let maxChain = 12
    private static let hashBits = 15

    static func zlib(_ input: [UInt8]) -> [UInt8] {
        var w = BitWriterLSB()
        w.reserve(input.count / 2 + 64)
        w.writeByte(0x78)  // CMF: deflate, 32 KiB window
        w.writeByte(0x9C)  // FLG: default level, check bits make 0x789C divisible by 31
        w.write(1, bits: 1)  // BFINAL
        w.write(1, bits: 2)  // BTYPE = fixed Huffman
        input.withUnsafeBufferPointer { buf in
            if let base = buf.baseAddress { compress(base, count: buf.count, into: &w) }
        }
        writeLiteral(256, &w)
        w.flushByte()
        let adler = Adler32.checksum(input)
        for shift in stride(from: 24, through: 0, by: -8) { w.writeByte(UInt8(truncatingIfNeeded: adler >> UInt32(shift))) }
        return w.bytes
    }

    private static func compress(_ data: UnsafePointer<UInt8>, count n: Int, into w: inout BitWriterLSB) {
        let head = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << hashBits)
        head.initialize(repeating: -1, count: 1 << hashBits)
        let prev = UnsafeMutablePointer<Int32>.allocate(capacity: windowSize)
        prev.initialize(repeating: -1, count: windowSize)
        defer { head.deallocate(); prev.deallocate() }
        @inline(__always) func hash(_ i: Int) -> Int {
            let v = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            return Int((v &* 2_654_435_761) >> UInt32(32 - hashBits))
        }
        @inline(__always) func insert(_ i: Int) {
            guard i + 2 < n else { return }
            let h = hash(i)
            prev[i & (windowSize - 1)] = head[h]
            head[h] = Int32(i)
        }
        var i = 0
        while i < n {
            var bestLen = 0, bestDist = 0
            if i + 2 < n {
                var cand = Int(head[hash(i)])
                var chain = maxChain
                let maxLen = min(258, n - i)
                while cand >= 0 && i - cand <= windowSize && chain > 0 {
                    if data[cand + bestLen] == data[i + bestLen] || bestLen == 0 {
                        var l = 0
                        while l < maxLen && data[cand + l] == data[i + l] { l += 1 }
                        if l > bestLen {
                            bestLen = l
                            bestDist = i - cand
                            if l == maxLen { break }
                        }
                    }
                    let p = Int(prev[cand & (windowSize - 1)])
                    if p >= cand { break }  // the slot was overwritten by a newer position
                    cand = p
                    chain -= 1
                }
            }
            if bestLen >= 3 {
                writeLength(bestLen, &w)
                writeDistance(bestDist, &w)
                for k in 0..<bestLen { insert(i + k) }
                i += bestLen
            } else {
                writeLiteral(Int(data[i]), &w)
                insert(i)
                i += 1
            }
        }
    }

    /// Fixed literal/length code of `sym` (RFC 1951 §3.2.6), written most-significant bit first.
    @inline(__always)
    private static func writeLiteral(_ sym: Int, _ w: inout BitWriterLSB) {
        switch sym {
        case 0..<144: w.writeHuffman(0x30 + sym, length: 8)
        case 144..<256: w.writeHuffman(0x190 + sym - 144, length: 9)
        case 256..<280: w.writeHuffman(sym - 256, length: 7)
        default: w.writeHuffman(0xC0 + sym - 280, length: 8)
        }
    }

    private static func writeLength(_ length: Int, _ w: inout BitWriterLSB) {
        var code = 28
        if length < 258 {
            code = 0
            while code + 1 < 28 && Inflate.lengthBase[code + 1] <= length { code += 1 }
        }
        writeLiteral(257 + code, &w)
        w.write(length - Inflate.lengthBase[code], bits: Inflate.lengthExtra[code])
    }

    private static func writeDistance(_ dist: Int, _ w: inout BitWriterLSB) {
        var code = 0
        while code + 1 < 30 && Inflate.distBase[code + 1] <= dist { code += 1 }
        w.writeHuffman(code, length: 5)
        w.write(dist - Inflate.distBase[code], bits: Inflate.distExtra[code])
    }
}

/// Packs bits least-significant first (deflate order).
struct BitWriterLSB {
    private(set) var bytes: [UInt8] = []
    private var acc: UInt64 = 0
    private var count = 0

    mutating func reserve(_ n: Int) { bytes.reserveCapacity(n) }

    @inline(__always)
    mutating func write(_ value: Int, bits n: Int) {
        guard n > 0 else { return }
        acc |= UInt64(value & ((1 << n) - 1)) << UInt64(count)
        count += n
        while count >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: acc))
            acc >>= 8
            count -= 8
        }
    }

    /// Huffman codes are defined most-significant bit first: reverse before packing.
    @inline(__always)
    mutating func writeHuffman(_ code: Int, length: Int) {
        var rev = 0
        for b in 0..<length where code & (1 << b) != 0 { rev |= 1 << (length - 1 - b) }
        write(rev, bits: length)
    }

    mutating func flushByte() {
        if count > 0 { write(0, bits: 8 - count) }
    }

    mutating func writeByte(_ b: UInt8) {
        precondition(count == 0)
        bytes.append(b)
    }
}
