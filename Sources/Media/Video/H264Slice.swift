/// Pictures of the built-in writer: RGB → BT.709 limited-range Y'CbCr 4:2:0, and one IDR slice per
/// picture made of I_PCM macroblocks (raw samples: lossless in Y'CbCr, every decoder supports them).
struct YUV420Frame: Equatable {
    let width: Int, height: Int  // even
    var y: [UInt8], cb: [UInt8], cr: [UInt8]

    // BT.709 (Kr 0.2126, Kb 0.0722), limited range: Y' = 16 + 219·E'y, Cb/Cr = 128 + 224·E'c, in 1/65536.
    // Each chroma row sums to 0 so that gray maps to exactly 128.
    private static let yR = 11_966, yG = 40_254, yB = 4_064      // 219/255 · (Kr, Kg, Kb) · 65536
    private static let cbR = -6_596, cbG = -22_188, cbB = 28_784  // 224/255 · (−Kr, −Kg, 1 − Kb) / 1.8556 · 65536
    private static let crR = 28_784, crG = -26_145, crB = -2_639  // 224/255 · (1 − Kr, −Kg, −Kb) / 1.5748 · 65536

    /// Converts an RGB image of even size. Chroma is computed per pixel at full precision and averaged
    /// over each 2×2 block before rounding.
    init(_ image: RGBImage) {
        precondition(image.width % 2 == 0 && image.height % 2 == 0)
        width = image.width
        height = image.height
        y = [UInt8](repeating: 0, count: width * height)
        cb = [UInt8](repeating: 0, count: width * height / 4)
        cr = [UInt8](repeating: 0, count: width * height / 4)
        let cw = width / 2, w = width
        y.withUnsafeMutableBufferPointer { yp in
            image.pixels.withUnsafeBufferPointer { px in
                for j in 0..<(height / 2) {
                    for i in 0..<cw {
                        var sumCb = 0, sumCr = 0
                        for k in 0..<4 {
                            let x = 2 * i + (k & 1), yy = 2 * j + (k >> 1)
                            let p = (yy * w + x) * 3
                            let r = Int(px[p]), g = Int(px[p + 1]), b = Int(px[p + 2])
                            yp[yy * w + x] = UInt8(truncatingIfNeeded: (Self.yR * r + Self.yG * g + Self.yB * b + (16 << 16) + 32768) >> 16)
                            sumCb += Self.cbR * r + Self.cbG * g + Self.cbB * b
                            sumCr += Self.crR * r + Self.crG * g + Self.crB * b
                        }
                        // (sum / 4) / 65536 + 128, rounded half up; the arithmetic shift floors negative values.
                        cb[j * cw + i] = UInt8(clamping: ((sumCb + (1 << 17)) >> 18) + 128)
                        cr[j * cw + i] = UInt8(clamping: ((sumCr + (1 << 17)) >> 18) + 128)
                    }
                }
            }
        }
    }

    /// Back to RGB with the BT.709 limited-range inverse, chroma repeated over each 2×2 block
    /// (reference for tests; decoders may interpolate chroma differently).
    func toRGB() -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for yy in 0..<height {
            for x in 0..<width {
                let c = (yy / 2) * (width / 2) + x / 2
                let l = 1.164_383_6 * (Double(y[yy * width + x]) - 16)
                let u = Double(cb[c]) - 128, v = Double(cr[c]) - 128
                let p = (yy * width + x) * 3
                out[p] = UInt8(clamping: Int((l + 1.792_741_1 * v).rounded()))
                out[p + 1] = UInt8(clamping: Int((l - 0.213_248_6 * u - 0.532_909_3 * v).rounded()))
                out[p + 2] = UInt8(clamping: Int((l + 2.112_401_8 * u).rounded()))
            }
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }
}

extension H264Stream {
    /// One picture as an IDR NAL unit (type 5) holding a single I slice of I_PCM macroblocks.
    /// `idrPicID` must differ between consecutive IDR pictures (§7.4.3): pass the frame index.
    func idrSlice(_ f: YUV420Frame, idrPicID: Int) -> [UInt8] {
        precondition(f.width == width && f.height == height)
        var w = BitstreamWriter(capacity: widthMBs * heightMBs * 390 + 16)
        w.ue(0)  // first_mb_in_slice
        w.ue(7)  // slice_type: I (all slices of the picture)
        w.ue(0)  // pic_parameter_set_id
        w.u(0, 4)  // frame_num (log2_max_frame_num = 4)
        w.ue(idrPicID & 0xFFFF)  // idr_pic_id
        w.flag(false)  // no_output_of_prior_pics_flag
        w.flag(false)  // long_term_reference_flag
        w.se(0)  // slice_qp_delta
        w.ue(1)  // disable_deblocking_filter_idc: off (I_PCM needs none)
        let cw = width / 2, ch = height / 2
        var luma = [UInt8](repeating: 0, count: 256)
        var chroma = [UInt8](repeating: 0, count: 128)
        for my in 0..<heightMBs {
            for mx in 0..<widthMBs {
                w.ue(25)  // mb_type I_PCM
                w.alignWithZeros()  // pcm_alignment_zero_bit
                // Samples outside the picture (the cropped margin) repeat the nearest edge sample.
                for j in 0..<16 {
                    let sy = min(my * 16 + j, height - 1) * width
                    for i in 0..<16 { luma[j * 16 + i] = f.y[sy + min(mx * 16 + i, width - 1)] }
                }
                for j in 0..<8 {
                    let sy = min(my * 8 + j, ch - 1) * cw
                    for i in 0..<8 {
                        let sx = min(mx * 8 + i, cw - 1)
                        chroma[j * 8 + i] = f.cb[sy + sx]
                        chroma[64 + j * 8 + i] = f.cr[sy + sx]
                    }
                }
                w.append(bytes: luma)
                w.append(bytes: chroma)
            }
        }
        w.trailingBits()
        return BitstreamWriter.nalUnit(type: 5, refIdc: 3, rbsp: w.bytes)
    }
}
