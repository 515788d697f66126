import Foundation
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
            _ = FileManager.default.createFile(atPath: errLog, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments(width: frames[0].width, height: frames[0].height, fps: fps, crf: crf,
                                          output: out.temporaryPath)
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: errLog)
            do { try process.run() } catch {
                throw MediaError.encoderFailed("cannot start \(executable): \(error.localizedDescription)")
            }
            let fd = input.fileHandleForWriting.fileDescriptor
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
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: errLog, encoding: .utf8)) ?? ""
            let tail = log.split(separator: "\n").suffix(6).joined(separator: " | ")
            guard process.terminationReason == .exit, process.terminationStatus == 0, pipeError == 0 else {
                let status = process.terminationReason == .exit ? "exit status \(process.terminationStatus)" : "signal \(process.terminationStatus)"
                let detail = tail.isEmpty ? (pipeError != 0 ? AtomicOutput.systemReason(pipeError) : "no message") : tail
                if detail.contains("No space left") { throw MediaError.writeFailed(path: path, reason: "ffmpeg: \(detail) (ENOSPC: the disk is full)") }
                throw MediaError.encoderFailed("ffmpeg (\(executable)) failed with \(status): \(detail)")
            }
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        return (attrs?[.size] as? NSNumber)?.intValue ?? 0
    }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
