/// Image resizing that reproduces PyTorch's CPU kernels.
public enum Resize {
    /// `F.interpolate(x, size: (toHeight, toWidth), mode: "bilinear", align_corners: False)` (no
    /// antialias) on a [C, H, W] float tensor, with PyTorch's source-index and weight arithmetic in
    /// fp32. PyTorch sums the taps in an order that depends on the output size and memory layout
    /// (and may fuse multiply-adds), so results agree to float rounding (~1e-7), not bit for bit.
    public static func bilinear(_ x: [Float], channels: Int, height: Int, width: Int,
                                toHeight: Int, toWidth: Int) throws -> [Float] {
        guard channels > 0, height > 0, width > 0, toHeight > 0, toWidth > 0 else {
            throw MediaError.invalidArgument("resize sizes must be positive (\(channels)x\(height)x\(width) -> \(toHeight)x\(toWidth))")
        }
        guard x.count == channels * height * width else {
            throw MediaError.invalidArgument("resize input has \(x.count) values, [\(channels), \(height), \(width)] needs \(channels * height * width)")
        }
        let ys = linearTaps(height, toHeight), xs = linearTaps(width, toWidth)
        var out = [Float](repeating: 0, count: channels * toHeight * toWidth)
        for c in 0..<channels {
            let src = c * height * width, dst = c * toHeight * toWidth
            for oy in 0..<toHeight {
                let (y0, y1, wy0, wy1) = ys[oy]
                let r0 = src + y0 * width, r1 = src + y1 * width
                for ox in 0..<toWidth {
                    let (x0, x1, wx0, wx1) = xs[ox]
                    let t0 = x[r0 + x0] * wx0 + x[r0 + x1] * wx1
                    let t1 = x[r1 + x0] * wx0 + x[r1 + x1] * wx1
                    out[dst + oy * toWidth + ox] = t0 * wy0 + t1 * wy1
                }
            }
        }
        return out
    }

    /// compute_source_index_and_lambda (UpSample.h), align_corners = false, in fp32.
    private static func linearTaps(_ inSize: Int, _ outSize: Int) -> [(Int, Int, Float, Float)] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { i in
            if inSize == outSize { return (i, i, 1, 0) }
            let real = max(scale * (Float(i) + 0.5) - 0.5, 0)
            let i0 = min(Int(real.rounded(.down)), inSize - 1)
            let l1 = min(max(real - Float(i0), 0), 1)
            return (i0, i0 + (i0 < inSize - 1 ? 1 : 0), 1 - l1, l1)
        }
    }

    /// Antialiased bilinear resize of an 8-bit image, exactly as PyTorch computes
    /// `F.interpolate(u8, size, mode: "bilinear", antialias: True)` on the CPU, which is what
    /// torchvision's `Resize(antialias=True)` runs for uint8 images, and so what the upstream I2V
    /// script applies to the conditioning image. PIL-style triangle filter widened by the downscale
    /// factor, weights normalised in double and rounded to int16 fixed point; width pass first, then
    /// height, each rounding to 8 bits. A dimension that keeps its size is not filtered.
    public static func antialiasedBilinear(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        guard width > 0, height > 0 else {
            throw MediaError.invalidArgument("resize target \(width)x\(height) must be positive")
        }
        var px = image.pixels
        var w = image.width
        if width != w {
            let axis = AAAxis(inSize: w, outSize: width)
            var out = [UInt8](repeating: 0, count: width * image.height * 3)
            for y in 0..<image.height {
                for ox in 0..<width {
                    for c in 0..<3 {
                        out[(y * width + ox) * 3 + c] = axis.apply(ox) { px[(y * w + $0) * 3 + c] }
                    }
                }
            }
            px = out
            w = width
        }
        if height != image.height {
            let axis = AAAxis(inSize: image.height, outSize: height)
            var out = [UInt8](repeating: 0, count: w * height * 3)
            for oy in 0..<height {
                for x in 0..<w {
                    for c in 0..<3 {
                        out[(oy * w + x) * 3 + c] = axis.apply(oy) { px[($0 * w + x) * 3 + c] }
                    }
                }
            }
            px = out
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: px)
    }
}

/// One axis of PyTorch's uint8 antialiased resampling
/// (`_compute_indices_min_size_weights_aa` + `_compute_index_ranges_int16_weights`, UpSampleKernel.cpp).
private struct AAAxis {
    var first: [Int] = [], count: [Int] = []
    var weights: [Int32] = []
    var taps = 0
    var precision = 0

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let support = scale >= 1 ? scale : 1.0  // interp_size 2 · 0.5, widened when downscaling
        let invscale = scale >= 1 ? 1 / scale : 1.0
        taps = Int(support.rounded(.up)) * 2 + 1
        var real = [Double](repeating: 0, count: outSize * taps)
        var wtMax = 0.0
        for i in 0..<outSize {
            let center = scale * (Double(i) + 0.5)
            let xmin = max(Int(center - support + 0.5), 0)  // C++ casts truncate toward zero
            let xsize = min(max(min(Int(center + support + 0.5), inSize) - xmin, 0), taps)
            var total = 0.0
            for j in 0..<xsize {
                var t = (Double(j + xmin) - center + 0.5) * invscale
                if t < 0 { t = -t }
                let w = t < 1 ? 1 - t : 0
                real[i * taps + j] = w
                total += w
            }
            if total != 0 {
                for j in 0..<xsize {
                    real[i * taps + j] /= total
                    wtMax = max(wtMax, real[i * taps + j])
                }
            }
            first.append(xmin)
            count.append(xsize)
        }
        // The largest precision at which the largest weight still fits in int16.
        precision = 0
        while precision < 22 {
            if Int(0.5 + wtMax * Double(1 << (precision + 1))) >= 1 << 15 { break }
            precision += 1
        }
        let unit = Double(1 << precision)
        weights = real.map { w in
            let v = w * unit
            return Int32(v < 0 ? Int(-0.5 + v) : Int(0.5 + v))
        }
    }

    @inline(__always)
    func apply(_ o: Int, _ sample: (Int) -> UInt8) -> UInt8 {
        var acc = Int32(1 << (precision - 1))
        let base = o * taps
        for j in 0..<count[o] { acc += Int32(sample(first[o] + j)) * weights[base + j] }
        return UInt8(clamping: acc >> Int32(precision))
    }
}
