/// JPEG sample reconstruction, reproducing libjpeg-turbo's default decompression exactly:
/// jidctint.c (islow IDCT), jdsample.c (fancy upsampling), jdcolor.c (YCbCr→RGB tables).
enum JPEGReconstruct {
    // MARK: IDCT (jidctint.c: Loeffler-Ligtenberg-Moschytz, 13-bit constants, 2 extra bits in pass 1)

    private static let constBits = 13, pass1Bits = 2
    private static let f0_298631336 = 2446, f0_390180644 = 3196, f0_541196100 = 4433, f0_765366865 = 6270
    private static let f0_899976223 = 7373, f1_175875602 = 9633, f1_501321110 = 12299, f1_847759065 = 15137
    private static let f1_961570560 = 16069, f2_053119869 = 16819, f2_562915447 = 20995, f3_072711026 = 25172

    @inline(__always) private static func descale(_ x: Int, _ n: Int) -> Int { (x + (1 << (n - 1))) >> n }

    /// libjpeg's post-IDCT range limit: the value wraps modulo 1024 (as `& RANGE_MASK` does),
    /// then is centred on 128 and clamped to 0...255.
    @inline(__always) private static func rangeLimit(_ x: Int) -> UInt8 {
        let w = ((x + 512) & 1023) - 512 + 128
        return UInt8(clamping: w)
    }

    /// Dequantizes and inverse-transforms every block; returns the plane (blocksWide·8 × blocksHigh·8).
    static func idctPlane(_ coef: UnsafePointer<Int16>, blocksWide: Int, blocksHigh: Int, quant: [Int]) -> [UInt8] {
        let stride = blocksWide * 8
        var plane = [UInt8](repeating: 0, count: stride * blocksHigh * 8)
        let ws = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { ws.deallocate() }
        quant.withUnsafeBufferPointer { q in
            plane.withUnsafeMutableBufferPointer { out in
                for by in 0..<blocksHigh {
                    for bx in 0..<blocksWide {
                        let base = (by * blocksWide + bx) * 64
                        idctBlock(coef + base, quant: q.baseAddress!, ws: ws,
                                  out: out.baseAddress! + by * 8 * stride + bx * 8, stride: stride)
                    }
                }
            }
        }
        return plane
    }

    private static func idctBlock(_ c: UnsafePointer<Int16>, quant q: UnsafePointer<Int>, ws: UnsafeMutablePointer<Int>,
                                  out: UnsafeMutablePointer<UInt8>, stride: Int) {
        // Pass 1: columns, dequantized, into the work array (scaled up by 2^pass1Bits).
        for col in 0..<8 {
            @inline(__always) func dq(_ row: Int) -> Int { Int(c[row * 8 + col]) * q[row * 8 + col] }
            var z2 = dq(2), z3 = dq(6)
            var z1 = (z2 + z3) * f0_541196100
            let tmp2e = z1 + z3 * -f1_847759065
            let tmp3e = z1 + z2 * f0_765366865
            z2 = dq(0); z3 = dq(4)
            let tmp0e = (z2 + z3) << constBits
            let tmp1e = (z2 - z3) << constBits
            let tmp10 = tmp0e + tmp3e, tmp13 = tmp0e - tmp3e
            let tmp11 = tmp1e + tmp2e, tmp12 = tmp1e - tmp2e
            var tmp0 = dq(7), tmp1 = dq(5), tmp2 = dq(3), tmp3 = dq(1)
            z1 = tmp0 + tmp3; z2 = tmp1 + tmp2; z3 = tmp0 + tmp2
            var z4 = tmp1 + tmp3
            let z5 = (z3 + z4) * f1_175875602
            tmp0 *= f0_298631336; tmp1 *= f2_053119869; tmp2 *= f3_072711026; tmp3 *= f1_501321110
            z1 *= -f0_899976223; z2 *= -f2_562915447; z3 *= -f1_961570560; z4 *= -f0_390180644
            z3 += z5; z4 += z5
            tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4
            let n = constBits - pass1Bits
            ws[col] = descale(tmp10 + tmp3, n); ws[56 + col] = descale(tmp10 - tmp3, n)
            ws[8 + col] = descale(tmp11 + tmp2, n); ws[48 + col] = descale(tmp11 - tmp2, n)
            ws[16 + col] = descale(tmp12 + tmp1, n); ws[40 + col] = descale(tmp12 - tmp1, n)
            ws[24 + col] = descale(tmp13 + tmp0, n); ws[32 + col] = descale(tmp13 - tmp0, n)
        }
        // Pass 2: rows, descaled by 2^(constBits + pass1Bits + 3), range-limited.
        for row in 0..<8 {
            let w = row * 8
            var z2 = ws[w + 2], z3 = ws[w + 6]
            var z1 = (z2 + z3) * f0_541196100
            let tmp2e = z1 + z3 * -f1_847759065
            let tmp3e = z1 + z2 * f0_765366865
            let tmp0e = (ws[w] + ws[w + 4]) << constBits
            let tmp1e = (ws[w] - ws[w + 4]) << constBits
            let tmp10 = tmp0e + tmp3e, tmp13 = tmp0e - tmp3e
            let tmp11 = tmp1e + tmp2e, tmp12 = tmp1e - tmp2e
            var tmp0 = ws[w + 7], tmp1 = ws[w + 5], tmp2 = ws[w + 3], tmp3 = ws[w + 1]
            z1 = tmp0 + tmp3; z2 = tmp1 + tmp2; z3 = tmp0 + tmp2
            var z4 = tmp1 + tmp3
            let z5 = (z3 + z4) * f1_175875602
            tmp0 *= f0_298631336; tmp1 *= f2_053119869; tmp2 *= f3_072711026; tmp3 *= f1_501321110
            z1 *= -f0_899976223; z2 *= -f2_562915447; z3 *= -f1_961570560; z4 *= -f0_390180644
            z3 += z5; z4 += z5
            tmp0 += z1 + z3; tmp1 += z2 + z4; tmp2 += z2 + z3; tmp3 += z1 + z4
            let n = constBits + pass1Bits + 3
            let o = out + row * stride
            o[0] = rangeLimit(descale(tmp10 + tmp3, n)); o[7] = rangeLimit(descale(tmp10 - tmp3, n))
            o[1] = rangeLimit(descale(tmp11 + tmp2, n)); o[6] = rangeLimit(descale(tmp11 - tmp2, n))
            o[2] = rangeLimit(descale(tmp12 + tmp1, n)); o[5] = rangeLimit(descale(tmp12 - tmp1, n))
            o[3] = rangeLimit(descale(tmp13 + tmp0, n)); o[4] = rangeLimit(descale(tmp13 - tmp0, n))
        }
    }

    // MARK: upsampling (jdsample.c)

    /// Upsamples a component plane (valid region `width`×`height`, row stride `stride`) by integer
    /// factors to at least `outWidth`×`outHeight`, returning a tightly packed outWidth×outHeight plane.
    /// 2×1, 2×2 (when the component is wider than 2 samples) and 1×2 use libjpeg's triangle filters;
    /// other factors replicate samples. Rows past the component's last row repeat it, as libjpeg does.
    static func upsample(_ p: [UInt8], stride: Int, width: Int, height: Int, hFactor: Int, vFactor: Int,
                         outWidth: Int, outHeight: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outWidth * outHeight)
        @inline(__always) func at(_ x: Int, _ y: Int) -> Int { Int(p[min(y, height - 1) * stride + x]) }
        let fancyH2 = hFactor == 2 && width > 2
        var row = [Int](repeating: 0, count: width * hFactor)
        for oy in 0..<outHeight {
            let iy = oy / vFactor
            // Vertical step: the column sums (3·nearer + further) for 2v, or plain samples.
            if vFactor == 2 && (hFactor == 1 || fancyH2) {
                let other = oy % 2 == 0 ? max(iy - 1, 0) : iy + 1
                var sums = [Int](repeating: 0, count: width)
                for x in 0..<width { sums[x] = 3 * at(x, iy) + at(x, other) }
                if hFactor == 1 {
                    let bias = oy % 2 == 0 ? 1 : 2
                    for x in 0..<width { row[x] = (sums[x] + bias) >> 2 }
                } else {
                    // h2v2: 3/4 · nearer column sum + 1/4 · further, with biases 8 and 7.
                    row[0] = (sums[0] * 4 + 8) >> 4
                    row[1] = (sums[0] * 3 + sums[1] + 7) >> 4
                    for x in 1..<(width - 1) {
                        row[2 * x] = (sums[x] * 3 + sums[x - 1] + 8) >> 4
                        row[2 * x + 1] = (sums[x] * 3 + sums[x + 1] + 7) >> 4
                    }
                    row[2 * width - 2] = (sums[width - 1] * 3 + sums[width - 2] + 8) >> 4
                    row[2 * width - 1] = (sums[width - 1] * 4 + 7) >> 4
                }
            } else if fancyH2 && vFactor == 1 {
                row[0] = at(0, iy)
                row[1] = (at(0, iy) * 3 + at(1, iy) + 2) >> 2
                for x in 1..<(width - 1) {
                    let v = at(x, iy) * 3
                    row[2 * x] = (v + at(x - 1, iy) + 1) >> 2
                    row[2 * x + 1] = (v + at(x + 1, iy) + 2) >> 2
                }
                row[2 * width - 2] = (at(width - 1, iy) * 3 + at(width - 2, iy) + 1) >> 2
                row[2 * width - 1] = at(width - 1, iy)
            } else {
                for x in 0..<(width * hFactor) { row[x] = at(x / hFactor, iy) }
            }
            let o = oy * outWidth
            for x in 0..<outWidth { out[o + x] = UInt8(row[x]) }
        }
        return out
    }

    // MARK: colour (jdcolor.c)

    private static let fix1_40200 = 91881, fix1_77200 = 116130, fix0_71414 = 46802, fix0_34414 = 22554
    private static let crR: [Int] = (0..<256).map { (fix1_40200 * ($0 - 128) + 32768) >> 16 }
    private static let cbB: [Int] = (0..<256).map { (fix1_77200 * ($0 - 128) + 32768) >> 16 }
    private static let crG: [Int] = (0..<256).map { -fix0_71414 * ($0 - 128) }
    private static let cbG: [Int] = (0..<256).map { -fix0_34414 * ($0 - 128) + 32768 }

    static func ycc(_ planes: [[UInt8]], width: Int, height: Int) -> RGBImage {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        let yp = planes[0], cbp = planes[1], crp = planes[2]
        for i in 0..<n {
            let y = Int(yp[i]), cb = Int(cbp[i]), cr = Int(crp[i])
            out[3 * i] = UInt8(clamping: y + crR[cr])
            out[3 * i + 1] = UInt8(clamping: y + ((cbG[cb] + crG[cr]) >> 16))
            out[3 * i + 2] = UInt8(clamping: y + cbB[cb])
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }

    static func rgb(_ planes: [[UInt8]], width: Int, height: Int) -> RGBImage {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n { for c in 0..<3 { out[3 * i + c] = planes[c][i] } }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }

    static func gray(_ plane: [UInt8], width: Int, height: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { out[3 * i] = plane[i]; out[3 * i + 1] = plane[i]; out[3 * i + 2] = plane[i] }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }
}
