/// Writes H.264 syntax elements most-significant bit first (ITU-T H.264 §7.2): fixed-width u(n),
/// Exp-Golomb ue(v)/se(v), RBSP trailing bits, and NAL units with emulation prevention.
struct BitstreamWriter {
    private(set) var bytes: [UInt8] = []
    private var acc: UInt64 = 0
    private var count = 0  // bits pending in acc (< 8 after each call)

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    var isByteAligned: Bool { count == 0 }

    /// u(n): the low `n` bits of `value`, n ≤ 32.
    mutating func u(_ value: Int, _ n: Int) {
        precondition(n >= 0 && n <= 32 && (n == 32 || value >> n == 0 || value < 0), "value \(value) does not fit \(n) bits")
        guard n > 0 else { return }
        acc = acc << UInt64(n) | (UInt64(truncatingIfNeeded: value) & ((1 << UInt64(n)) - 1))
        count += n
        while count >= 8 {
            count -= 8
            bytes.append(UInt8(truncatingIfNeeded: acc >> UInt64(count)))
        }
        acc &= (1 << UInt64(count)) - 1
    }

    mutating func flag(_ b: Bool) { u(b ? 1 : 0, 1) }

    /// ue(v): Exp-Golomb, `leadingZeros` zeros then value + 1 in binary (§9.1).
    mutating func ue(_ value: Int) {
        precondition(value >= 0)
        let v = value + 1
        let bits = Int.bitWidth - v.leadingZeroBitCount
        u(0, bits - 1)
        u(v, bits)
    }

    /// se(v): signed Exp-Golomb, k > 0 → 2k − 1, k ≤ 0 → −2k (§9.1.1).
    mutating func se(_ value: Int) { ue(value > 0 ? 2 * value - 1 : -2 * value) }

    /// Appends whole bytes; the writer must be byte aligned.
    mutating func append<C: Collection>(bytes more: C) where C.Element == UInt8 {
        precondition(count == 0, "append(bytes:) needs byte alignment")
        bytes.append(contentsOf: more)
    }

    /// Zero bits up to the next byte boundary (e.g. pcm_alignment_zero_bit).
    mutating func alignWithZeros() { if count > 0 { u(0, 8 - count) } }

    /// rbsp_trailing_bits: a stop bit 1, then zeros to the byte boundary.
    mutating func trailingBits() {
        u(1, 1)
        alignWithZeros()
    }

    /// A NAL unit (header byte + RBSP with emulation prevention bytes), without start code or length.
    static func nalUnit(type: Int, refIdc: Int, rbsp: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(rbsp.count + rbsp.count / 1024 + 8)
        out.append(UInt8(refIdc << 5 | type))
        var zeros = 0
        for b in rbsp {
            // Within the NAL payload, 0x000000..0x000003 must not occur: insert 0x03 after two zeros.
            if zeros >= 2 && b <= 3 {
                out.append(3)
                zeros = 0
            }
            out.append(b)
            zeros = b == 0 ? zeros + 1 : 0
        }
        return out
    }
}
