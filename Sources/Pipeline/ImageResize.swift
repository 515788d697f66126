/// Resizing of the I2V conditioning image as upstream does it: torchvision's
/// `Resize((h, w), antialias=True)` on a uint8 image, i.e. PIL's separable bilinear (triangle)
/// filter whose support widens with the downscale factor, horizontal pass first, each pass
/// rounded to uint8. Upstream's kernels use fixed-point weights; this uses float weights, so a
/// pixel can differ by one level (measured against torch in the tests).
public enum ImageResize {
    /// rgb: interleaved RGB8 rows of `width`×`height` -> interleaved RGB8 of the new size.
    public static func antialiasedBilinear(_ rgb: [UInt8], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
        precondition(rgb.count == width * height * 3 && toWidth > 0 && toHeight > 0)
        // Horizontal: [height, width] -> [height, toWidth].
        let hx = taps(input: width, output: toWidth)
        var mid = [UInt8](repeating: 0, count: height * toWidth * 3)
        for y in 0..<height {
            for (x, t) in hx.enumerated() {
                for c in 0..<3 {
                    var s: Float = 0
                    for (k, w) in t.weights.enumerated() { s += w * Float(rgb[(y * width + t.first + k) * 3 + c]) }
                    mid[(y * toWidth + x) * 3 + c] = clip8(s)
                }
            }
        }
        // Vertical: [height, toWidth] -> [toHeight, toWidth].
        let vy = taps(input: height, output: toHeight)
        var out = [UInt8](repeating: 0, count: toHeight * toWidth * 3)
        for (y, t) in vy.enumerated() {
            for x in 0..<toWidth {
                for c in 0..<3 {
                    var s: Float = 0
                    for (k, w) in t.weights.enumerated() { s += w * Float(mid[((t.first + k) * toWidth + x) * 3 + c]) }
                    out[(y * toWidth + x) * 3 + c] = clip8(s)
                }
            }
        }
        return out
    }

    struct Taps {
        let first: Int
        let weights: [Float]
    }

    /// Input pixels and normalised weights contributing to each output pixel along one axis.
    static func taps(input n: Int, output m: Int) -> [Taps] {
        let scale = Double(n) / Double(m)
        let support = scale >= 1 ? scale : 1
        let inverse = scale >= 1 ? 1 / scale : 1
        return (0..<m).map { i in
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), n)
            var w = (lo..<hi).map { j in max(0, 1 - abs((Double(j) - center + 0.5) * inverse)) }
            let total = w.reduce(0, +)
            if total > 0 { w = w.map { $0 / total } }
            return Taps(first: lo, weights: w.map(Float.init))
        }
    }

    static func clip8(_ v: Float) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }

    /// RGB8 -> [3, H, W] floats in [-1, 1] ((x/255 − 0.5)/0.5, as torchvision's ToDtype + Normalize).
    public static func planarSigned(_ rgb: [UInt8], width: Int, height: Int) -> [Float] {
        var out = [Float](repeating: 0, count: 3 * width * height)
        for p in 0..<(width * height) {
            for c in 0..<3 { out[c * width * height + p] = (Float(rgb[p * 3 + c]) / 255 - 0.5) / 0.5 }
        }
        return out
    }
}
