#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ffmpeg path: raw RGB24 frames piped to `ffmpeg … -c:v libx264 -pix_fmt yuv420p -crf Q
/// -movflags +faststart`, written to a temporary file that is renamed into place.
enum FFmpegWriter {
    /// `explicit` if it is executable, else the first `ffmpeg` on PATH.
    static func find(_ explicit: String?) -> String? {
        if let e = explicit { return FileManager.default.isExecutableFile(atPath: e) ? e : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = String(dir) + "/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The ffmpeg arguments for frames of `width`×`height` (even) written to `output`.
    static func arguments(width: Int, height: Int, fps: Int, crf: Int, output: String) -> [String] {
        ["-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(width)x\(height)", "-r", "\(fps)", "-i", "-",
         "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "\(crf)",
         // Convert with the BT.709 matrix and say so in the stream, as the built-in writer does; an
         // untagged stream leaves players guessing between BT.601 and BT.709.
         "-vf", "scale=out_color_matrix=bt709:out_range=tv",
         "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
         "-movflags", "+faststart", "-f", "mp4", output]
    }

    /// Returns the size of the written file. Throws `.encoderFailed` when ffmpeg fails (with its
    /// error output), `.writeFailed` when the file cannot be put in place.
    static func write(_ frames: [RGBImage], to path: String, fps: Int, crf: Int, executable: String) throws -> Int {
        let out = try AtomicOutput(path: path)
        let errLog = out.temporaryPath + ".log"
        defer { unlink(errLog) }
        do {
            // A broken pipe (ffmpeg exited early) must become an error, not kill the process.
            signal(SIGPIPE, SIG_IGN)
            let process: Subprocess
            do {
                process = try Subprocess(executable: executable,
                                         arguments: arguments(width: frames[0].width, height: frames[0].height, fps: fps, crf: crf,
                                                              output: out.temporaryPath),
                                         errorPath: errLog)
            } catch {
                throw MediaError.encoderFailed("cannot start \(executable): \(error)")
            }
            let fd = process.inputFD
            var pipeError: Int32 = 0
            for frame in frames {
                frame.pixels.withUnsafeBytes { buf in
                    var done = 0
                    while done < buf.count {
                        let n = Glibc_write(fd, buf.baseAddress! + done, buf.count - done)
                        if n < 0 {
                            if errno == EINTR { continue }
                            pipeError = errno
                            return
                        }
                        done += n
                    }
                }
                if pipeError != 0 { break }
            }
            let (exited, code) = process.wait()
            let log = (try? String(contentsOfFile: errLog, encoding: .utf8)) ?? ""
            let tail = log.split(separator: "\n").suffix(6).joined(separator: " | ")
            guard exited, code == 0, pipeError == 0 else {
                let status = exited ? "exit status \(code)" : "signal \(code)"
                let detail = tail.isEmpty ? (pipeError != 0 ? AtomicOutput.systemReason(pipeError) : "no message") : tail
                if detail.contains("No space left") { throw MediaError.writeFailed(path: path, reason: "ffmpeg: \(detail) (ENOSPC: the disk is full)") }
                throw MediaError.encoderFailed("ffmpeg (\(executable)) failed with \(status): \(detail)")
            }
            // ffmpeg can exit 0 with a file cut short (a full disk during +faststart's rewrite was seen
            // doing this): the file must parse as complete top-level boxes with ftyp, moov and mdat.
            if let problem = incompleteMP4(at: out.temporaryPath) {
                throw MediaError.writeFailed(path: path, reason: "ffmpeg reported success but its output is not a complete MP4 (\(problem)); is the disk full?")
            }
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

/// Why the file at `path` is not a complete MP4 (top-level boxes that tile the file exactly and
/// include ftyp, moov and mdat), or nil when it is.
func incompleteMP4(at path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "it cannot be read" }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return "its size cannot be read" }
    let size = UInt64(info.st_size)
    var offset: UInt64 = 0
    var types: Set<String> = []
    while offset < size {
        guard size - offset >= 8 else { return "\(size - offset) stray bytes at offset \(offset)" }
        var bytes = [UInt8](repeating: 0, count: 16)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 16, off_t(offset)) }
        guard got >= 8 else { return "unreadable box header at offset \(offset)" }
        bytes.removeLast(16 - got)
        var boxSize = bytes[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let type = String(decoding: bytes[4..<8], as: UTF8.self)
        if boxSize == 1 {
            guard bytes.count >= 16 else { return "box '\(type)' at offset \(offset) is cut short" }
            boxSize = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        } else if boxSize == 0 {
            boxSize = size - offset   // extends to the end of the file
        }
        guard boxSize >= 8, boxSize <= size - offset else {
            return "box '\(type)' at offset \(offset) declares \(boxSize) bytes, \(size - offset) remain"
        }
        types.insert(type)
        offset += boxSize
    }
    let missing = ["ftyp", "moov", "mdat"].filter { !types.contains($0) }
    return missing.isEmpty ? nil : "no \(missing.joined(separator: ", ")) box"
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
