/// PNG decoding (ISO/IEC 15948): every colour type and bit depth, Adam7 interlacing, all five
/// filters, tRNS transparency. Output is 8-bit RGB; 16-bit samples keep their high byte (as libpng's
/// strip-16 and PIL do for RGB); alpha is handled by `AlphaHandling`. Gamma, ICC and other ancillary
/// chunks are ignored (PIL ignores them too). Chunk CRCs and the zlib checksum are verified.
enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Refuse images whose pixel count could exhaust memory (a 16k × 16k RGBA8 image is 1 GiB).
    static let maxPixels = 1 << 28

    struct Header {
        var width = 0, height = 0, bitDepth = 0, colorType = 0, interlaced = false
        var channels: Int {
            switch colorType { case 0, 3: 1; case 4: 2; case 2: 3; default: 4 }
        }
        var bitsPerPixel: Int { channels * bitDepth }
        func rowBytes(_ w: Int) -> Int { (w * bitsPerPixel + 7) / 8 }
    }

    static func decode(_ data: [UInt8], alpha: AlphaHandling) throws -> RGBImage {
        guard data.count >= 8, Array(data[0..<8]) == signature else {
            throw DecodeFailure.malformed("not a PNG signature")
        }
        var pos = 8
        var header: Header?
        var palette: [UInt8] = []
        var trns: [UInt8]?
        var idat: [UInt8] = []
        var sawIEND = false
        while pos < data.count {
            guard pos + 8 <= data.count else { throw DecodeFailure.malformed("file ends inside a chunk header") }
            let length = Int(be32(data, pos))
            let typeBytes = Array(data[(pos + 4)..<(pos + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= Int(Int32.max), pos + 12 + length <= data.count else {
                throw DecodeFailure.malformed("chunk \(type) declares \(length) bytes but the file ends after \(max(0, data.count - pos - 12))")
            }
            let body = Array(data[(pos + 8)..<(pos + 8 + length)])
            let crc = be32(data, pos + 8 + length)
            guard CRC32.checksum(data[(pos + 4)..<(pos + 8 + length)]) == crc else {
                throw DecodeFailure.malformed("CRC mismatch in chunk \(type)")
            }
            pos += 12 + length
            if header == nil && type != "IHDR" { throw DecodeFailure.malformed("first chunk is \(type), not IHDR") }
            switch type {
            case "IHDR": header = try parseHeader(body)
            case "PLTE":
                guard length % 3 == 0, length > 0, length <= 768 else {
                    throw DecodeFailure.malformed("PLTE chunk has \(length) bytes (must be 3..768, a multiple of 3)")
                }
                palette = body
            case "tRNS": trns = body
            case "IDAT": idat.append(contentsOf: body)
            case "IEND": sawIEND = true
            default:
                // Ancillary chunks have a lowercase first letter; an unknown critical chunk cannot be skipped.
                if typeBytes[0] & 0x20 == 0 { throw DecodeFailure.unsupported("unknown critical chunk \(type)") }
            }
            if sawIEND { break }
        }
        guard let h = header else { throw DecodeFailure.malformed("no IHDR chunk") }
        if h.colorType == 3 && palette.isEmpty { throw DecodeFailure.malformed("palette image without a PLTE chunk") }
        guard !idat.isEmpty else {
            throw DecodeFailure.malformed(sawIEND ? "no image data (IDAT)" : "file ends before any image data (IDAT)")
        }
        let passes = h.interlaced ? adam7 : [(0, 0, 1, 1)]
        var expected = 0
        for (x0, y0, dx, dy) in passes {
            let pw = (h.width - x0 + dx - 1) / dx, ph = (h.height - y0 + dy - 1) / dy
            if pw > 0 && ph > 0 { expected += ph * (1 + h.rowBytes(pw)) }
        }
        let raw: [UInt8]
        do {
            raw = try Inflate.zlib(idat, sizeHint: expected, limit: expected)
        } catch let f as DecodeFailure {
            let cut = sawIEND ? "" : " (the file has no IEND chunk: it was probably cut short)"
            throw DecodeFailure(kind: f.kind, reason: "image data: \(f.reason)\(cut)")
        }
        guard raw.count == expected else {
            throw DecodeFailure.malformed("image data holds \(raw.count) bytes, \(expected) expected")
        }
        var out = [UInt8](repeating: 0, count: h.width * h.height * 3)
        let converter = try PixelConverter(header: h, palette: palette, trns: trns, alpha: alpha)
        var offset = 0
        for (x0, y0, dx, dy) in passes {
            let pw = (h.width - x0 + dx - 1) / dx, ph = (h.height - y0 + dy - 1) / dy
            guard pw > 0 && ph > 0 else { continue }
            let rb = h.rowBytes(pw)
            var prior = [UInt8](repeating: 0, count: rb)
            var line = [UInt8](repeating: 0, count: rb)
            for py in 0..<ph {
                let filter = raw[offset]
                for i in 0..<rb { line[i] = raw[offset + 1 + i] }
                try unfilter(&line, prior: prior, filter: filter, bpp: max(1, h.bitsPerPixel / 8))
                converter.convert(line, count: pw, into: &out, row: y0 + py * dy, x0: x0, dx: dx, width: h.width)
                swap(&prior, &line)
                offset += 1 + rb
            }
        }
        return RGBImage(uncheckedWidth: h.width, height: h.height, pixels: out)
    }

    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    private static func parseHeader(_ b: [UInt8]) throws -> Header {
        guard b.count == 13 else { throw DecodeFailure.malformed("IHDR has \(b.count) bytes, 13 expected") }
        var h = Header()
        h.width = Int(be32(b, 0))
        h.height = Int(be32(b, 4))
        h.bitDepth = Int(b[8])
        h.colorType = Int(b[9])
        guard h.width > 0, h.height > 0, h.width <= Int(Int32.max), h.height <= Int(Int32.max) else {
            throw DecodeFailure.malformed("image size \(h.width)x\(h.height) is invalid")
        }
        guard h.width * h.height <= maxPixels else {
            throw DecodeFailure.unsupported("image of \(h.width)x\(h.height) pixels is larger than \(maxPixels) pixels")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[h.colorType] else { throw DecodeFailure.malformed("colour type \(h.colorType) is invalid") }
        guard depths.contains(h.bitDepth) else {
            throw DecodeFailure.malformed("bit depth \(h.bitDepth) is invalid for colour type \(h.colorType)")
        }
        guard b[10] == 0 else { throw DecodeFailure.unsupported("compression method \(b[10])") }
        guard b[11] == 0 else { throw DecodeFailure.unsupported("filter method \(b[11])") }
        guard b[12] <= 1 else { throw DecodeFailure.unsupported("interlace method \(b[12])") }
        h.interlaced = b[12] == 1
        return h
    }

    /// Reverses one scanline's filter in place (filters 0-4 of PNG §9).
    static func unfilter(_ line: inout [UInt8], prior: [UInt8], filter: UInt8, bpp: Int) throws {
        let n = line.count
        switch filter {
        case 0: break
        case 1: for i in bpp..<max(bpp, n) { line[i] = line[i] &+ line[i - bpp] }
        case 2: for i in 0..<n { line[i] = line[i] &+ prior[i] }
        case 3:
            for i in 0..<n {
                let left = i >= bpp ? Int(line[i - bpp]) : 0
                line[i] = line[i] &+ UInt8((left + Int(prior[i])) >> 1)
            }
        case 4:
            for i in 0..<n {
                let a = i >= bpp ? Int(line[i - bpp]) : 0
                let b = Int(prior[i])
                let c = i >= bpp ? Int(prior[i - bpp]) : 0
                line[i] = line[i] &+ UInt8(paeth(a, b, c))
            }
        default: throw DecodeFailure.malformed("scanline filter type \(filter) is invalid")
        }
    }

    @inline(__always)
    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
    }

    @inline(__always)
    static func be32(_ d: [UInt8], _ i: Int) -> UInt32 {
        UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3])
    }
}

/// Turns unfiltered scanlines of any PNG pixel format into RGB8.
private struct PixelConverter {
    let h: PNGDecoder.Header
    let alpha: AlphaHandling
    /// Palette as RGBA (256 entries; indices past the PLTE are black and opaque, as libpng does).
    var paletteRGBA = [UInt8](repeating: 0, count: 256 * 4)
    /// tRNS colour key for gray (1 sample) / RGB (3 samples), compared at full bit depth.
    var key: [Int]?

    init(header: PNGDecoder.Header, palette: [UInt8], trns: [UInt8]?, alpha: AlphaHandling) throws {
        h = header
        self.alpha = alpha
        for i in 0..<256 { paletteRGBA[i * 4 + 3] = 255 }
        for i in 0..<(palette.count / 3) {
            for c in 0..<3 { paletteRGBA[i * 4 + c] = palette[i * 3 + c] }
        }
        guard let t = trns else { return }
        switch h.colorType {
        case 3:
            guard t.count <= palette.count / 3 else {
                throw DecodeFailure.malformed("tRNS has \(t.count) entries for a palette of \(palette.count / 3)")
            }
            for (i, a) in t.enumerated() { paletteRGBA[i * 4 + 3] = a }
        case 0:
            guard t.count == 2 else { throw DecodeFailure.malformed("gray tRNS must have 2 bytes, has \(t.count)") }
            key = [Int(t[0]) << 8 | Int(t[1])]
        case 2:
            guard t.count == 6 else { throw DecodeFailure.malformed("RGB tRNS must have 6 bytes, has \(t.count)") }
            key = [0, 2, 4].map { Int(t[$0]) << 8 | Int(t[$0 + 1]) }
        default:
            throw DecodeFailure.malformed("tRNS chunk in an image that already has an alpha channel")
        }
    }

    /// Writes `count` pixels of one (pass) row to `out` at columns x0, x0+dx, ...
    func convert(_ line: [UInt8], count: Int, into out: inout [UInt8], row: Int, x0: Int, dx: Int, width: Int) {
        let depth = h.bitDepth
        @inline(__always) func sample(_ index: Int) -> Int {  // index-th sample of the line, full depth
            switch depth {
            case 8: return Int(line[index])
            case 16: return Int(line[2 * index]) << 8 | Int(line[2 * index + 1])
            default:
                let bit = index * depth
                return Int(line[bit >> 3] >> UInt8(8 - depth - (bit & 7))) & ((1 << depth) - 1)
            }
        }
        @inline(__always) func to8(_ v: Int) -> UInt8 {
            switch depth {
            case 16: return UInt8(v >> 8)
            case 8: return UInt8(v)
            default: return UInt8(v * (255 / ((1 << depth) - 1)))
            }
        }
        var o = (row * width + x0) * 3
        for x in 0..<count {
            var r: UInt8, g: UInt8, b: UInt8, a: UInt8 = 255
            switch h.colorType {
            case 0:
                let v = sample(x)
                r = to8(v); g = r; b = r
                if let k = key, k[0] == v { a = 0 }
            case 2:
                let s = (sample(3 * x), sample(3 * x + 1), sample(3 * x + 2))
                r = to8(s.0); g = to8(s.1); b = to8(s.2)
                if let k = key, k[0] == s.0, k[1] == s.1, k[2] == s.2 { a = 0 }
            case 3:
                let p = sample(x) * 4
                r = paletteRGBA[p]; g = paletteRGBA[p + 1]; b = paletteRGBA[p + 2]; a = paletteRGBA[p + 3]
            case 4:
                r = to8(sample(2 * x)); g = r; b = r
                a = to8(sample(2 * x + 1))
            default:
                r = to8(sample(4 * x)); g = to8(sample(4 * x + 1)); b = to8(sample(4 * x + 2))
                a = to8(sample(4 * x + 3))
            }
            if a != 255 {
                r = alpha.apply(r, alpha: a); g = alpha.apply(g, alpha: a); b = alpha.apply(b, alpha: a)
            }
            out[o] = r; out[o + 1] = g; out[o + 2] = b
            o += 3 * dx
        }
    }
}
