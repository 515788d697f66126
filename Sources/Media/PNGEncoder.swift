#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PNG encoding of RGB8 images (colour type 2, depth 8, not interlaced), with a per-row adaptive
/// filter choice (minimum sum of absolute differences) and our own deflate.
public enum PNGEncoder {
    public static func encode(_ image: RGBImage) -> [UInt8] {
        let w = image.width, h = image.height, rb = w * 3
        var filtered = [UInt8](repeating: 0, count: h * (rb + 1))
        var candidate = [UInt8](repeating: 0, count: rb)
        let zeroRow = [UInt8](repeating: 0, count: rb)
        image.pixels.withUnsafeBufferPointer { pxBuf in
            zeroRow.withUnsafeBufferPointer { zeros in
                filtered.withUnsafeMutableBufferPointer { outBuf in
                    candidate.withUnsafeMutableBufferPointer { candBuf in
                        let cand = candBuf.baseAddress!
                        for y in 0..<h {
                            let row = pxBuf.baseAddress! + y * rb
                            let up = y > 0 ? row - rb : zeros.baseAddress!
                            let dst = outBuf.baseAddress! + y * (rb + 1)
                            var bestScore = Int.max
                            for f in UInt8(0)...4 {
                                let score = Self.filterRow(f, row: row, up: up, count: rb, into: cand)
                                if score < bestScore {
                                    bestScore = score
                                    dst[0] = f
                                    (dst + 1).update(from: cand, count: rb)
                                }
                            }
                        }
                    }
                }
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
    /// All or nothing: every frame is written to its temporary file first and only then renamed
    /// into place; a failure (full disk, file-size limit, unwritable folder, a rename refused)
    /// removes the temporary files and any frame of this call already renamed, so the folder never
    /// holds part of a clip.
    @discardableResult
    public static func writeFrames(_ frames: [RGBImage], toDirectory dir: String) throws -> [String] {
        var staged: [AtomicOutput] = []
        defer { for out in staged { out.abort() } }
        for (i, frame) in frames.enumerated() {
            let name = "frame_" + String(repeating: "0", count: max(0, 5 - String(i).count)) + String(i) + ".png"
            let out = try AtomicOutput(path: (dir.hasSuffix("/") ? dir : dir + "/") + name)
            staged.append(out)
            try out.write(encode(frame))
            try out.finishWriting()
        }
        var committed: [String] = []
        do {
            for out in staged {
                try out.commit()
                committed.append(out.path)
            }
        } catch {
            for path in committed { unlink(path) }
            throw error
        }
        return committed
    }

    /// Applies PNG filter `f` to one row (bpp 3) into `out`; returns the sum of |signed residuals|,
    /// the usual heuristic for choosing a filter.
    @inline(__always)
    private static func filterRow(_ f: UInt8, row: UnsafePointer<UInt8>, up: UnsafePointer<UInt8>, count n: Int,
                                  into out: UnsafeMutablePointer<UInt8>) -> Int {
        var score = 0
        @inline(__always) func put(_ i: Int, _ v: UInt8) {
            out[i] = v
            score += Int(Int8(bitPattern: v).magnitude)
        }
        switch f {
        case 0: for i in 0..<n { put(i, row[i]) }
        case 1:
            for i in 0..<min(3, n) { put(i, row[i]) }
            for i in min(3, n)..<n { put(i, row[i] &- row[i - 3]) }
        case 2: for i in 0..<n { put(i, row[i] &- up[i]) }
        case 3:
            for i in 0..<min(3, n) { put(i, row[i] &- up[i] >> 1) }
            for i in min(3, n)..<n { put(i, row[i] &- UInt8((Int(row[i - 3]) + Int(up[i])) >> 1)) }
        default:
            for i in 0..<min(3, n) { put(i, row[i] &- up[i]) }  // Paeth with a = c = 0 picks b
            for i in min(3, n)..<n {
                put(i, row[i] &- UInt8(PNGDecoder.paeth(Int(row[i - 3]), Int(up[i]), Int(up[i - 3]))))
            }
        }
        return score
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
