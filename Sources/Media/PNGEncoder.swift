/// PNG encoding of RGB8 images (colour type 2, depth 8, not interlaced), with a per-row adaptive
/// filter choice (minimum sum of absolute differences) and our own deflate.
public enum PNGEncoder {
    public static func encode(_ image: RGBImage) -> [UInt8] {
        let w = image.width, h = image.height, rb = w * 3
        var filtered = [UInt8]()
        filtered.reserveCapacity(h * (rb + 1))
        var candidate = [UInt8](repeating: 0, count: rb)
        var best = [UInt8](repeating: 0, count: rb)
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<h {
                let row = y * rb, up = (y - 1) * rb
                var bestFilter: UInt8 = 0, bestScore = Int.max
                for f in UInt8(0)...4 {
                    var score = 0
                    for i in 0..<rb {
                        let x = Int(px[row + i])
                        let a = i >= 3 ? Int(px[row + i - 3]) : 0
                        let b = y > 0 ? Int(px[up + i]) : 0
                        let c = (y > 0 && i >= 3) ? Int(px[up + i - 3]) : 0
                        let pred: Int
                        switch f {
                        case 0: pred = 0
                        case 1: pred = a
                        case 2: pred = b
                        case 3: pred = (a + b) >> 1
                        default: pred = PNGDecoder.paeth(a, b, c)
                        }
                        let v = UInt8(truncatingIfNeeded: x - pred)
                        candidate[i] = v
                        score += Int(Int8(bitPattern: v).magnitude)
                    }
                    if score < bestScore {
                        bestScore = score
                        bestFilter = f
                        swap(&best, &candidate)
                    }
                }
                filtered.append(bestFilter)
                filtered.append(contentsOf: best)
            }
        }
        var out = PNGDecoder.signature
        var ihdr = [UInt8]()
        ihdr += be32(UInt32(w)) + be32(UInt32(h))
        ihdr += [8, 2, 0, 0, 0]  // depth 8, RGB, deflate, filter method 0, no interlace
        appendChunk("IHDR", ihdr, to: &out)
        appendChunk("IDAT", Deflate.zlib(filtered), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// Encodes and writes atomically (temporary file + rename; parent folders created).
    public static func write(_ image: RGBImage, to path: String) throws {
        try AtomicOutput.write(encode(image), to: path)
    }

    /// The `--frames_dir` layout: frame_00000.png, frame_00001.png, ... Returns the paths written.
    @discardableResult
    public static func writeFrames(_ frames: [RGBImage], toDirectory dir: String) throws -> [String] {
        var paths: [String] = []
        for (i, frame) in frames.enumerated() {
            let name = "frame_" + String(repeating: "0", count: max(0, 5 - String(i).count)) + String(i) + ".png"
            let path = (dir.hasSuffix("/") ? dir : dir + "/") + name
            try write(frame, to: path)
            paths.append(path)
        }
        return paths
    }

    private static func appendChunk(_ type: String, _ body: [UInt8], to out: inout [UInt8]) {
        out += be32(UInt32(body.count))
        let typed = Array(type.utf8) + body
        out += typed
        out += be32(CRC32.checksum(typed))
    }

    private static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
}
