/// The EXIF orientation tag (0x0112) and its eight transforms.
public enum EXIF {
    /// Orientation from a JPEG APP1 segment body ("Exif\0\0" + TIFF), or nil when absent/invalid.
    static func orientation(app1 b: [UInt8]) -> Int? {
        guard b.count >= 14, b.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]) else { return nil }
        return orientation(tiff: Array(b[6...]))
    }

    /// Orientation from a TIFF-structured EXIF block (also PNG's eXIf chunk).
    static func orientation(tiff t: [UInt8]) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= t.count else { return nil }
            return little ? Int(t[i]) | Int(t[i + 1]) << 8 : Int(t[i]) << 8 | Int(t[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for e in 0..<count {
            let entry = ifd + 2 + 12 * e
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112 {
                guard u16(entry + 2) == 3, let v = u16(entry + 8), (1...8).contains(v) else { return nil }
                return v
            }
        }
        return nil
    }

    /// Applies an EXIF orientation so the result displays upright (PIL's `ImageOps.exif_transpose`).
    /// 1 = as stored, 2 = mirrored, 3 = rotated 180°, 4 = flipped, 5 = transposed,
    /// 6 = rotate 90° clockwise to display, 7 = transverse, 8 = rotate 90° counter-clockwise.
    public static func apply(orientation: Int, to image: RGBImage) -> RGBImage {
        guard (2...8).contains(orientation) else { return image }
        let w = image.width, h = image.height
        let swaps = orientation >= 5
        let ow = swaps ? h : w, oh = swaps ? w : h
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<oh {
                for x in 0..<ow {
                    let sx: Int, sy: Int
                    switch orientation {
                    case 2: (sx, sy) = (w - 1 - x, y)
                    case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                    case 4: (sx, sy) = (x, h - 1 - y)
                    case 5: (sx, sy) = (y, x)
                    case 6: (sx, sy) = (y, h - 1 - x)
                    case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                    default: (sx, sy) = (w - 1 - y, x)
                    }
                    let s = (sy * w + sx) * 3, d = (y * ow + x) * 3
                    out[d] = src[s]; out[d + 1] = src[s + 1]; out[d + 2] = src[s + 2]
                }
            }
        }
        return RGBImage(uncheckedWidth: ow, height: oh, pixels: out)
    }
}
