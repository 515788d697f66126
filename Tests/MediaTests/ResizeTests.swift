import Foundation
import Testing
@testable import Media

/// Against resize.json (torch 2.13 CPU): F.interpolate bilinear on float, the uint8 antialiased path
/// that torchvision's Resize(antialias=True) takes, and upstream's uint8 <-> [-1, 1] conversions.
@Suite struct ResizeTests {
    private func cases(_ key: String) -> [[String: Any]] { Fixtures.resize[key] as? [[String: Any]] ?? [] }
    private func floats(_ v: Any?) -> [Float] { (v as? [NSNumber] ?? []).map { $0.floatValue } }
    private func ints(_ v: Any?) -> [Int] { (v as? [NSNumber] ?? []).map { $0.intValue } }

    @Test func bilinearMatchesTorch() throws {
        let all = cases("bilinear")
        #expect(all.count == 5)
        for c in all {
            let i = ints(c["in_shape"]), o = ints(c["out_shape"])
            let y = try Resize.bilinear(floats(c["input"]), channels: i[0], height: i[1], width: i[2], toHeight: o[1], toWidth: o[2])
            let ref = floats(c["output"])
            #expect(y.count == ref.count)
            let err = zip(y, ref).map { abs($0 - $1) }.max() ?? .infinity
            #expect(err <= 1e-6, "bilinear \(i) -> \(o): max error \(err)")
        }
    }

    @Test func antialiasedUInt8MatchesTorchExactly() throws {
        let all = cases("antialias_u8")
        #expect(all.count == 6)
        for c in all {
            let i = ints(c["in_shape"]), o = ints(c["out_shape"])
            let chw = ints(c["input"])
            var px = [UInt8](repeating: 0, count: chw.count)
            let n = i[1] * i[2]
            for p in 0..<n { for ch in 0..<3 { px[p * 3 + ch] = UInt8(chw[ch * n + p]) } }
            let image = try RGBImage(width: i[2], height: i[1], pixels: px)
            let y = try Resize.antialiasedBilinear(image, width: o[2], height: o[1])
            let ref = ints(c["output"]), m = o[1] * o[2]
            var diff = 0
            for p in 0..<m { for ch in 0..<3 where Int(y.pixels[p * 3 + ch]) != ref[ch * m + p] { diff += 1 } }
            #expect(diff == 0, "antialiased \(i) -> \(o): \(diff) values differ")
        }
    }

    @Test func unitFloatConversionsMatchUpstream() throws {
        let toUnit = floats(Fixtures.resize["to_unit"])
        #expect(toUnit.count == 256)
        let ramp = try RGBImage(width: 256, height: 1, pixels: (0..<256).flatMap { [UInt8($0), UInt8(255 - $0), UInt8($0)] })
        let f = FrameConversion.toUnitFloat(ramp)
        for v in 0..<256 {
            #expect(f[v] == toUnit[v], "u8 \(v)")
            #expect(f[256 + v] == toUnit[255 - v])
        }
        let from = Fixtures.resize["from_unit"] as! [String: Any]
        let xs = floats(from["input"]), us = ints(from["output"])
        #expect(xs.count > 400)
        for (x, u) in zip(xs, us) { #expect(Int(FrameConversion.toByte(x)) == u, "x = \(x)") }
        #expect(FrameConversion.toByte(.nan) == 0 && FrameConversion.toByte(5) == 255 && FrameConversion.toByte(-5) == 0)
        // Every byte survives u8 -> float -> u8.
        let back = try FrameConversion.toRGB8(f, height: 1, width: 256)
        #expect(back == ramp)
    }

    @Test func conditioningImageIsResizeThenNormalise() throws {
        let image = testImage(width: 40, height: 30)
        let c = try FrameConversion.conditioningImage(image, width: 16, height: 16)
        #expect(c == FrameConversion.toUnitFloat(try Resize.antialiasedBilinear(image, width: 16, height: 16)))
        #expect(try FrameConversion.conditioningImage(image, width: 40, height: 30) == FrameConversion.toUnitFloat(image))
    }

    @Test func badArguments() {
        #expect(throws: MediaError.self) { try Resize.bilinear([1, 2], channels: 1, height: 1, width: 3, toHeight: 2, toWidth: 2) }
        #expect(throws: MediaError.self) { try Resize.bilinear([1], channels: 1, height: 1, width: 1, toHeight: 0, toWidth: 2) }
        #expect(throws: MediaError.self) { try Resize.antialiasedBilinear(testImage(width: 4, height: 4), width: 0, height: 3) }
        #expect(throws: MediaError.self) { try FrameConversion.toRGB8([0, 0], height: 1, width: 1) }
    }
}

@Suite struct TilingTests {
    @Test func samplesGoSideBySide() throws {
        let a = testImage(width: 3, height: 2, seed: 1), b = testImage(width: 5, height: 2, seed: 2)
        let t = try Tiling.sideBySide([a, b])
        #expect(t.width == 8 && t.height == 2)
        for y in 0..<2 {
            for x in 0..<3 { #expect(t[x, y] == a[x, y]) }
            for x in 0..<5 { #expect(t[3 + x, y] == b[x, y]) }
        }
        let frames = try Tiling.sideBySide(samples: [[a, a], [b, b]])
        #expect(frames.count == 2 && frames[1] == t)
        #expect(throws: MediaError.self) { try Tiling.sideBySide([a, testImage(width: 3, height: 3)]) }
        #expect(throws: MediaError.self) { try Tiling.sideBySide(samples: [[a], [a, a]]) }
    }

    /// [B, 3, T, H, W] → T frames with the B samples along the width (upstream's "(b w)").
    @Test func videoTensorToTiledFrames() throws {
        let (batch, frames, h, w) = (2, 3, 2, 4)
        var v = [Float](repeating: 0, count: batch * 3 * frames * h * w)
        func value(_ b: Int, _ c: Int, _ t: Int, _ y: Int, _ x: Int) -> Float {
            Float((b * 7 + c * 3 + t * 5 + y * 2 + x) % 17) / 8 - 1
        }
        for b in 0..<batch { for c in 0..<3 { for t in 0..<frames { for y in 0..<h { for x in 0..<w {
            v[(((b * 3 + c) * frames + t) * h + y) * w + x] = value(b, c, t, y, x)
        } } } } }
        let out = try FrameConversion.videoFrames(v, batch: batch, frames: frames, height: h, width: w)
        #expect(out.count == frames && out[0].width == batch * w && out[0].height == h)
        for t in 0..<frames { for b in 0..<batch { for y in 0..<h { for x in 0..<w {
            let p = out[t][b * w + x, y]
            #expect(p.r == FrameConversion.toByte(value(b, 0, t, y, x)))
            #expect(p.g == FrameConversion.toByte(value(b, 1, t, y, x)))
            #expect(p.b == FrameConversion.toByte(value(b, 2, t, y, x)))
        } } } }
    }
}
