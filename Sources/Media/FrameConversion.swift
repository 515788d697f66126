/// Conversions between RGB8 images and the float tensors of the pipeline, following the upstream
/// scripts' arithmetic exactly (fp32).
public enum FrameConversion {
    /// RGB8 → [3, H, W] in [-1, 1]: (u · fp32(1/255) − 0.5) / 0.5, i.e. torchvision's
    /// `ToDtype(float32, scale=True)` followed by `Normalize(mean=0.5, std=0.5)`.
    public static func toUnitFloat(_ image: RGBImage) -> [Float] {
        let n = image.width * image.height
        let inv: Float = Float(1.0 / 255.0)
        let table = (0..<256).map { (Float($0) * inv - 0.5) / 0.5 }
        var out = [Float](repeating: 0, count: 3 * n)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<n { for c in 0..<3 { out[c * n + i] = table[Int(px[3 * i + c])] } }
        }
        return out
    }

    /// One value in [-1, 1] → 8 bits as the upstream writer does: v = (1 + clamp(x, −1, 1)) / 2,
    /// then ⌊v · 255 + 0.5⌋ in fp32 (x·127.5 + 127.5 rounded half up, clamped). NaN becomes 0.
    @inline(__always)
    public static func toByte(_ x: Float) -> UInt8 {
        if x.isNaN { return 0 }
        let v = (1 + min(max(x, -1), 1)) / 2
        return UInt8((v * 255 + 0.5).rounded(.down))
    }

    /// [3, H, W] in [-1, 1] → RGB8 (see `toByte`).
    public static func toRGB8(_ chw: [Float], height: Int, width: Int) throws -> RGBImage {
        guard height > 0, width > 0, chw.count == 3 * height * width else {
            throw MediaError.invalidArgument("a [3, \(height), \(width)] frame needs \(3 * max(0, height * width)) values, got \(chw.count)")
        }
        let n = height * width
        var out = [UInt8](repeating: 0, count: 3 * n)
        for i in 0..<n { for c in 0..<3 { out[3 * i + c] = toByte(chw[c * n + i]) } }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }

    /// The I2V conditioning image as upstream prepares it: antialiased bilinear resize of the 8-bit
    /// image to width×height, then `toUnitFloat`. Returns [3, height, width].
    public static func conditioningImage(_ image: RGBImage, width: Int, height: Int) throws -> [Float] {
        let resized = (image.width == width && image.height == height)
            ? image : try Resize.antialiasedBilinear(image, width: width, height: height)
        return toUnitFloat(resized)
    }

    /// A decoded video batch [B, 3, T, H, W] in [-1, 1] → T frames with the B samples side by side
    /// (upstream: `rearrange("n b c t h w -> c t (n h) (b w)")` with n = 1).
    public static func videoFrames(_ bcthw: [Float], batch: Int, frames: Int, height: Int, width: Int) throws -> [RGBImage] {
        guard batch > 0, frames > 0, height > 0, width > 0, bcthw.count == batch * 3 * frames * height * width else {
            throw MediaError.invalidArgument("a [\(batch), 3, \(frames), \(height), \(width)] video needs \(max(0, batch * 3 * frames * height * width)) values, got \(bcthw.count)")
        }
        let plane = height * width, tw = batch * width
        var result: [RGBImage] = []
        for t in 0..<frames {
            var px = [UInt8](repeating: 0, count: tw * height * 3)
            for b in 0..<batch {
                for c in 0..<3 {
                    let src = ((b * 3 + c) * frames + t) * plane
                    for y in 0..<height {
                        for x in 0..<width { px[(y * tw + b * width + x) * 3 + c] = toByte(bcthw[src + y * width + x]) }
                    }
                }
            }
            result.append(RGBImage(uncheckedWidth: tw, height: height, pixels: px))
        }
        return result
    }
}

/// Placing several samples side by side, as upstream does for `--num_samples` > 1.
public enum Tiling {
    /// Concatenates images of equal height along the width, left to right.
    public static func sideBySide(_ images: [RGBImage]) throws -> RGBImage {
        guard let first = images.first else { throw MediaError.invalidArgument("nothing to tile") }
        guard images.allSatisfy({ $0.height == first.height }) else {
            throw MediaError.invalidArgument("tiled images must share a height: \(images.map { "\($0.width)x\($0.height)" })")
        }
        let total = images.reduce(0) { $0 + $1.width }
        var px = [UInt8](repeating: 0, count: total * first.height * 3)
        var x0 = 0
        for im in images {
            for y in 0..<im.height {
                let src = y * im.width * 3, dst = (y * total + x0) * 3
                px.replaceSubrange(dst..<(dst + im.width * 3), with: im.pixels[src..<(src + im.width * 3)])
            }
            x0 += im.width
        }
        return RGBImage(uncheckedWidth: total, height: first.height, pixels: px)
    }

    /// Per frame, the samples' frames side by side: `samples[s][t]` → result[t]. Every sample must
    /// have the same frame count and frame height.
    public static func sideBySide(samples: [[RGBImage]]) throws -> [RGBImage] {
        guard let n = samples.first?.count, n > 0 else { throw MediaError.invalidArgument("no frames to tile") }
        guard samples.allSatisfy({ $0.count == n }) else {
            throw MediaError.invalidArgument("samples have different frame counts: \(samples.map(\.count))")
        }
        return try (0..<n).map { t in try sideBySide(samples.map { $0[t] }) }
    }
}
