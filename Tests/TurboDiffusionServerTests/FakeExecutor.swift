import Foundation
import Media
import Pipeline
@testable import TurboDiffusionServer

/// A JobExecutor that runs `steps` progress steps, `delay` seconds apart, and writes a small file;
/// `gate` (when set) holds each job until it is signalled, so tests control what runs when.
final class FakeExecutor: JobExecutor, @unchecked Sendable {
    let steps: Int
    let delay: Double
    let gate: DispatchSemaphore?
    private let lock = NSLock()
    private var _ran: [String] = []
    private var _releases = 0
    var ran: [String] { lock.withLock { _ran } }
    var releases: Int { lock.withLock { _releases } }

    init(steps: Int = 4, delay: Double = 0, gate: DispatchSemaphore? = nil) {
        self.steps = steps
        self.delay = delay
        self.gate = gate
    }

    func models() -> [ModelInfo] {
        [ModelInfo(id: "demo", tasks: ["t2v", "i2v"], available: true, defaultSize: "64x64", defaultFrames: 17),
         ModelInfo(id: "Wan2.1-1.3B", tasks: ["t2v"], available: false, missing: [.init(path: "checkpoints/x.pth", url: "https://example.org/x.pth")]),
         ModelInfo(id: "Wan2.2-A14B", tasks: ["i2v"], available: true)]
    }

    func run(_ request: JobRequest, image: RGBImage?, outputPath: String, framesDirectory: String?,
             progress: @escaping ProgressHandler) throws {
        gate?.wait()
        lock.withLock { _ran.append(request.prompt) }
        let reporter = ProgressReporter(progress)
        try reporter.begin(.encodeText)
        try reporter.end()
        try reporter.begin(.denoise, steps: steps)
        for i in 1 ... steps {
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            try reporter.step(i, of: steps)
        }
        try reporter.end()
        try AtomicFile.write(Data("fake video of \(request.prompt)".utf8), to: outputPath)
        if let framesDirectory {
            let frames = try (0 ..< 3).map { i in try RGBImage(width: 2, height: 1, pixels: [UInt8(i), 0, 0, 0, 0, 255]) }
            _ = try PNGEncoder.writeFrames(frames, toDirectory: framesDirectory)
        }
    }

    func release() -> String {
        lock.withLock { _releases += 1 }
        return "released"
    }
}

func temporaryDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tdserver-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Waits (polling) until `condition` holds or `seconds` pass.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}
