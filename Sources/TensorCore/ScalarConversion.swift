// Conversions between Float and the narrow float formats, bit-exact with PyTorch's
// `tensor.to(dtype)` on the CPU: round to nearest, ties to even.

/// bfloat16 stored as its bit pattern.
public enum BF16 {
    /// Float → bf16 bits, round-to-nearest-even. NaN stays NaN (quiet bit forced, as torch does).
    @inlinable @inline(__always)
    public static func bits(_ value: Float) -> UInt16 {
        let b = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: (b &+ roundingBias) >> 16)
    }

    @inlinable @inline(__always)
    public static func float(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds a Float to the nearest bf16 value and returns it as a Float.
    @inlinable @inline(__always)
    public static func round(_ value: Float) -> Float { float(bits(value)) }
}

/// IEEE binary16 stored as its bit pattern (Swift's `Float16` rounds to nearest even).
public enum FP16 {
    @inlinable @inline(__always)
    public static func bits(_ value: Float) -> UInt16 { Float16(value).bitPattern }

    @inlinable @inline(__always)
    public static func float(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
}

/// float8 e4m3fn (no infinities; 0x7F/0xFF are NaN; max finite 448), as in PyTorch/CUDA.
public enum FP8E4M3 {
    /// Float → e4m3fn bits with round-to-nearest-even. Magnitudes that round past 448 become
    /// NaN (no saturation), matching `torch.Tensor.to(torch.float8_e4m3fn)`.
    @inlinable
    public static func bits(_ value: Float) -> UInt8 {
        var f = value.bitPattern
        let sign = f & 0x8000_0000
        f ^= sign
        var result: UInt8
        if f >= 0x43F0_0000 || value.isNaN {          // ≥ 480 rounds out of range (or NaN)
            result = 0x7F
        } else if f < (121 << 23) {                    // below 2^-6: subnormal (or zero)
            let denormMagic: UInt32 = 141 << 23
            let sum = (Float(bitPattern: f) + Float(bitPattern: denormMagic)).bitPattern
            result = UInt8(truncatingIfNeeded: sum &- denormMagic)
        } else {
            let mantissaOdd = (f >> 20) & 1
            f = f &+ (UInt32(bitPattern: Int32(7 - 127)) << 23) &+ 0x7FFFF
            f = f &+ mantissaOdd
            result = UInt8(truncatingIfNeeded: f >> 20)
        }
        return result | UInt8(truncatingIfNeeded: sign >> 24)
    }

    @inlinable
    public static func float(_ bits: UInt8) -> Float {
        let sign: Float = bits & 0x80 != 0 ? -1 : 1
        let exponent = Int((bits >> 3) & 0xF)
        let mantissa = Float(bits & 0x7)
        if exponent == 0xF && bits & 0x7 == 0x7 { return .nan }
        if exponent == 0 { return sign * mantissa / 8 * 0.015625 }  // subnormal: m/8 · 2^-6
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
}
