import Testing
@testable import TensorCore

@Suite struct ConversionTests {
    @Test func bf16RoundsToNearestEven() {
        // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        #expect(BF16.round(1 + 0x1p-8) == 1)
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
        #expect(BF16.round(1 + 3 * 0x1p-8) == 1 + 0x1p-6)
        #expect(BF16.round(1 + 0x1p-8 + 0x1p-20) == 1 + 0x1p-7)
        #expect(BF16.bits(-2.0) == 0xC000)
        #expect(BF16.bits(.infinity) == 0x7F80)
        #expect(BF16.float(BF16.bits(.nan)).isNaN)
        // Largest finite value that does not round to infinity.
        #expect(BF16.round(Float(bitPattern: 0x7F7F_7FFF)) == Float(bitPattern: 0x7F7F_0000))
        #expect(BF16.round(Float(bitPattern: 0x7F7F_8000)) == .infinity)
        // The sampler's documented timesteps.
        #expect(BF16.round(987.65) == 988)
        #expect(BF16.round(933.78) == 932)
        #expect(BF16.round(852.9) == 852)
        #expect(BF16.round(608.98) == 608)
        #expect(BF16.round(995.02) == 996)
    }

    @Test func f16RoundsToNearestEven() {
        #expect(FP16.float(FP16.bits(1 + 0x1p-11)) == 1)
        #expect(FP16.float(FP16.bits(1 + 3 * 0x1p-11)) == 1 + 0x1p-9)
        #expect(FP16.float(FP16.bits(65520)) == .infinity)
        #expect(FP16.float(FP16.bits(65519)) == 65504)
        #expect(FP16.float(FP16.bits(0x1p-24)) == 0x1p-24)   // smallest subnormal
    }

    @Test func fp8e4m3Values() {
        #expect(FP8E4M3.float(0x7E) == 448)
        #expect(FP8E4M3.float(0x7F).isNaN)
        #expect(FP8E4M3.float(0x01) == 0x1p-9)
        #expect(FP8E4M3.bits(448) == 0x7E)
        #expect(FP8E4M3.bits(464) == 0x7E)          // tie → even (448)
        #expect(FP8E4M3.float(FP8E4M3.bits(470)).isNaN)
        #expect(FP8E4M3.bits(-1.0) == 0xB8)
        #expect(FP8E4M3.bits(0x1p-10) == 0x00)       // half the smallest subnormal: tie → 0
        #expect(FP8E4M3.bits(3 * 0x1p-10) == 0x02)   // 1.5 ulp: tie → even (2)
        // Every finite code round-trips.
        for code in 0...255 where code & 0x7F != 0x7F {
            let v = FP8E4M3.float(UInt8(code))
            if v != 0 { #expect(FP8E4M3.bits(v) == UInt8(code)) }
        }
    }

    @Test func bf16ExhaustiveRoundTrip() {
        for bits in 0...0xFFFF {
            let f = BF16.float(UInt16(bits))
            if f.isNaN { continue }
            #expect(BF16.bits(f) == UInt16(bits))
        }
    }
}
