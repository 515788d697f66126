#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Media
import Pipeline

/// Runs one request through a loaded generator and writes the results: the MP4 (atomically,
/// parent folders created), optionally PNG frames, then a summary on stderr.
struct GenerationRunner {
    let generator: VideoGenerator
    let options: GenerationOptions
    /// "t2v" or "i2v", and the model name used in default file names.
    let task: String, modelName: String

    /// `observer`, when given, sees every progress event (including the write stage) and can cancel.
    /// `framesDir` overrides `--frames_dir` (the web UI's per-job frames).
    @discardableResult
    func run(_ request: GenerationRequest, savePath: String?, framesDir: String? = nil, observer: ProgressHandler? = nil) throws -> String {
        let path = savePath ?? OutputNaming.defaultPath(task: task, seed: request.seed, model: modelName)
        guard path.lowercased().hasSuffix(".mp4") else {
            throw GenerationCommandError("--save_path must name an .mp4 file, got \(path)")
        }
        let printer = ProgressPrinter()
        ProgressPrinter.interrupted = false
        let start = Date()
        let video = try generator.generate(request) { p in
            let printed = printer.handle(p), observed = observer?(p) ?? .proceed
            return printed == .cancel || observed == .cancel ? .cancel : .proceed
        }
        let writeStage = observer.map(ProgressReporter.init)
        try writeStage?.begin(.write)

        let writeStart = Date()
        logLine(String(printf: "[%6.1fs] write video…", Date().timeIntervalSince(start)))
        let frames = try video.frames.map { try RGBImage(width: video.width, height: video.height, pixels: $0) }
        var writeOptions = options.writeOptions
        writeOptions.fps = video.fps
        let result = try VideoWriter.writeMP4(frames, to: path, options: writeOptions)
        for note in result.notes { logLine("note: \(note)") }
        if let dir = framesDir ?? options.framesDir {
            do {
                let written = try PNGEncoder.writeFrames(frames, toDirectory: dir)
                logLine("wrote \(written.count) PNG frames to \(dir)")
            } catch {
                // The video is already in place: say so, so that the one error line does not read as a lost result.
                throw GenerationCommandError("the video was saved to \(path), but the PNG frames were not (none were left in \(dir)): \(error)")
            }
        }
        let writeTime = Date().timeIntervalSince(writeStart)
        try? writeStage?.end()

        let stages = (printer.stageTimes + [("write", writeTime)])
            .map { "\($0.0) \(ProgressPrinter.duration($0.1))" }.joined(separator: ", ")
        logLine("done in \(ProgressPrinter.duration(Date().timeIntervalSince(start))): \(stages)")
        logLine("saved \(path) (\(video.frames.count) frames, \(video.width)×\(video.height), \(video.fps) fps, \(result.writer.rawValue) writer, \(result.bytes / 1024) KiB)")
        return path
    }
}
