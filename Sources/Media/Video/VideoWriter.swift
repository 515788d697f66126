#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Dispatch
import SystemSupport

/// Which encoder produced a video.
public enum VideoWriterKind: String, Sendable {
    /// `ffmpeg` with libx264 (yuv420p, CRF rate control): small files.
    case ffmpeg
    /// The built-in pure-Swift writer: H.264 Constrained Baseline, I_PCM macroblocks (lossless in
    /// Y'CbCr 4:2:0, uncompressed: about 0.58 MB per 832×480 frame).
    case builtin
}

public struct VideoWriteOptions: Sendable {
    public enum Writer: Sendable { case auto, ffmpeg, builtin }
    /// Frames per second (upstream writes 16).
    public var fps = 16
    /// libx264 constant rate factor for the ffmpeg writer, 0 (lossless) … 51. The default 15 is what
    /// upstream's imageio writer uses (quality 7 → crf int((1 − 0.7)·51)).
    public var crf = 15
    /// `.auto`: ffmpeg when it is found (falling back to the built-in writer if it fails), else built-in.
    public var writer = Writer.auto
    /// The ffmpeg executable; nil searches PATH.
    public var ffmpegPath: String?

    public init(fps: Int = 16, crf: Int = 15, writer: Writer = .auto, ffmpegPath: String? = nil) {
        self.fps = fps
        self.crf = crf
        self.writer = writer
        self.ffmpegPath = ffmpegPath
    }

    /// imageio's 0…10 quality scale as a CRF (imageio-ffmpeg: int((1 − q/10) · 51)).
    public static func crf(imageioQuality q: Double) -> Int { Int((1 - min(max(q, 0), 10) / 10) * 51) }
}

public struct VideoWriteResult: Sendable, CustomStringConvertible {
    public let path: String
    public let writer: VideoWriterKind
    /// Size of the video as written (odd sizes are padded to even).
    public let width: Int, height: Int
    public let frameCount: Int
    public let fps: Int
    public let bytes: Int
    /// Things worth logging: padding, why ffmpeg was not used, level limits exceeded.
    public let notes: [String]

    public var description: String {
        let mb = String(printf: "%.1f", Double(bytes) / 1_048_576)
        let head = "wrote \(path): \(width)x\(height), \(frameCount) frames at \(fps) fps, \(mb) MiB, \(writer.rawValue) writer"
        return notes.isEmpty ? head : head + " (" + notes.joined(separator: "; ") + ")"
    }
}

public enum VideoWriter {
    /// Writes `frames` (RGB8, all the same size) as an H.264 MP4 at `path`, atomically: the video is
    /// written under a temporary name beside `path` and renamed into place; on any error nothing is
    /// left behind and an existing file at `path` is untouched. Parent folders are created.
    @discardableResult
    public static func writeMP4(_ frames: [RGBImage], to path: String,
                                options: VideoWriteOptions = VideoWriteOptions()) throws -> VideoWriteResult {
        guard let first = frames.first else { throw MediaError.invalidArgument("no frames to write to \(path)") }
        if let bad = frames.firstIndex(where: { $0.width != first.width || $0.height != first.height }) {
            throw MediaError.invalidArgument("frame \(bad) is \(frames[bad].width)x\(frames[bad].height), frame 0 is \(first.width)x\(first.height): all frames must have one size")
        }
        guard (1...240).contains(options.fps) else { throw MediaError.invalidArgument("fps must be 1…240, got \(options.fps)") }
        guard (0...51).contains(options.crf) else { throw MediaError.invalidArgument("crf must be 0…51, got \(options.crf)") }

        var notes: [String] = []
        let padded = frames.map(padToEven)
        let (w, h) = (padded[0].width, padded[0].height)
        if (w, h) != (first.width, first.height) {
            notes.append("padded \(first.width)x\(first.height) to \(w)x\(h) by repeating the last column/row")
        }
        var useBuiltin = options.writer == .builtin
        if !useBuiltin {
            if let exe = FFmpegWriter.find(options.ffmpegPath) {
                do {
                    let bytes = try FFmpegWriter.write(padded, to: path, fps: options.fps, crf: options.crf, executable: exe)
                    return VideoWriteResult(path: path, writer: .ffmpeg, width: w, height: h, frameCount: frames.count,
                                            fps: options.fps, bytes: bytes, notes: notes)
                } catch let e as MediaError {
                    guard options.writer == .auto, case .encoderFailed(let why) = e else { throw e }
                    notes.append("ffmpeg failed (\(why)), used the built-in writer")
                    useBuiltin = true
                }
            } else if options.writer == .ffmpeg {
                throw MediaError.encoderFailed("ffmpeg was requested but " + (options.ffmpegPath.map { "\($0) is not an executable" } ?? "no ffmpeg is on PATH"))
            } else {
                notes.append("ffmpeg not found on PATH: built-in I_PCM writer (large files)")
                useBuiltin = true
            }
        }
        precondition(useBuiltin)
        let (bytes, levelOK) = try writeBuiltin(padded, to: path, fps: options.fps)
        if !levelOK { notes.append("I_PCM bit rate exceeds H.264 level 5.2 limits; software players cope, strict hardware decoders may not") }
        return VideoWriteResult(path: path, writer: .builtin, width: w, height: h, frameCount: frames.count,
                                fps: options.fps, bytes: bytes, notes: notes)
    }

    /// Frames encoded at once by the built-in writer (about 0.6 MB each at 480p).
    static let encodeBatch = 32

    /// `body(0..<n)` run concurrently, results in order.
    static func encodeConcurrently(_ n: Int, _ body: (Int) -> [UInt8]) -> [[UInt8]] {
        var results = [[UInt8]](repeating: [], count: n)
        results.withUnsafeMutableBufferPointer { slots in
            withoutActuallyEscaping(body) { body in
                // Each iteration writes only its own slot.
                let shared = UncheckedSendable((slots: slots, body: body))
                DispatchQueue.concurrentPerform(iterations: n) { shared.value.slots[$0] = shared.value.body($0) }
            }
        }
        return results
    }

    /// Repeats the last column and/or row so both dimensions are even (4:2:0 needs it).
    static func padToEven(_ im: RGBImage) -> RGBImage {
        let w = im.width + im.width % 2, h = im.height + im.height % 2
        if w == im.width && h == im.height { return im }
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let sy = min(y, im.height - 1)
            for x in 0..<w {
                let s = (sy * im.width + min(x, im.width - 1)) * 3, d = (y * w + x) * 3
                px[d] = im.pixels[s]; px[d + 1] = im.pixels[s + 1]; px[d + 2] = im.pixels[s + 2]
            }
        }
        return RGBImage(uncheckedWidth: w, height: h, pixels: px)
    }

    /// The built-in writer. The moov (with every sample size) precedes mdat, so sizes are needed first.
    /// They do not depend on the picture: samples are limited-range (16…240, never 0…3) and the header
    /// and macroblock-type bits never hold 16 zero bits in a row, so no emulation prevention byte is ever
    /// inserted; the size depends only on the frame size and idr_pic_id. It is measured on a gray
    /// picture and checked again for every real picture.
    static func writeBuiltin(_ frames: [RGBImage], to path: String, fps: Int) throws -> (bytes: Int, levelOK: Bool) {
        let stream = H264Stream(width: frames[0].width, height: frames[0].height, fps: fps)
        let sps = stream.sps(), pps = stream.pps()
        let gray = YUV420Frame(RGBImage(width: stream.width, height: stream.height))
        let sizeByParity = [0, 1].map { 4 + stream.idrSlice(gray, idrPicID: $0).count }
        let sizes = frames.indices.map { sizeByParity[$0 % 2] }
        func sample(_ i: Int) -> [UInt8] {
            let nal = stream.idrSlice(YUV420Frame(frames[i]), idrPicID: i % 2)
            return MP4Muxer.be32(nal.count) + nal
        }
        let out = try AtomicOutput(path: path)
        do {
            try out.write(MP4Muxer.header(stream: stream, sps: sps, pps: pps, sampleSizes: sizes))
            // Frames are independent (all IDR): each batch is encoded on all cores, then written in order.
            var first = 0
            while first < frames.count {
                let n = min(encodeBatch, frames.count - first)
                let encoded = encodeConcurrently(n) { sample(first + $0) }
                for (k, s) in encoded.enumerated() {
                    let i = first + k
                    guard s.count == sizes[i] else {
                        throw MediaError.writeFailed(path: path, reason: "internal error: frame \(i) encoded to \(s.count) bytes, then \(sizes[i])")
                    }
                    try out.write(s)
                }
                first += n
            }
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
        return (out.bytesWritten, stream.level.withinLimits)
    }
}
