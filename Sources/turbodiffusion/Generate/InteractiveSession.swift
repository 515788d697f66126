#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Media
import Pipeline

/// `--serve`: an interactive session on stdin/stdout. Models load at the first prompt and stay
/// resident; each prompt makes one video. A line ending in `\` continues on the next line.
final class InteractiveSession {
    struct Settings {
        var seed: UInt64
        var steps: Int
        var samples: Int
        var frames: Int
        var resolution: Resolution
        var aspectRatio: AspectRatio
        /// A custom size (--size), which takes precedence over resolution and aspect ratio.
        var size: VideoSize?
        var sigmaMax: Double
        var ode: Bool
        var boundary: Double
        var adaptiveResolution: Bool
        var image: String?
    }

    let runner: GenerationRunner
    let imageToVideo: Bool
    let initial: Settings
    var settings: Settings
    private var input: () -> String?

    init(runner: GenerationRunner, imageToVideo: Bool, boundary: Double = 0.9, adaptiveResolution: Bool = false,
         imagePath: String? = nil, input: @escaping () -> String? = InteractiveSession.standardInputLine) {
        self.runner = runner
        self.imageToVideo = imageToVideo
        let o = runner.options
        initial = Settings(seed: o.seed, steps: o.numSteps, samples: o.numSamples, frames: o.frames,
                           resolution: o.resolution.flatMap(Resolution.init) ?? (imageToVideo ? .p720 : .p480),
                           aspectRatio: AspectRatio(rawValue: o.aspectRatio) ?? .wide,
                           size: o.size.flatMap(GenerationOptions.parseSize),
                           sigmaMax: o.sigmaMax ?? (imageToVideo ? 200 : 80), ode: o.ode, boundary: boundary,
                           adaptiveResolution: adaptiveResolution, image: imagePath)
        settings = initial
        self.input = input
    }

    /// A line of standard input, invalid UTF-8 replaced as Python replaces it (and said so).
    static func standardInputLine() -> String? {
        guard let line = PromptInput.readLine() else { return nil }
        if line.replaced > 0 {
            logLine("note: the line is not valid UTF-8: \(line.replaced) invalid byte sequence(s) read as U+FFFD")
        }
        return line.text
    }

    func say(_ s: String) {
        StandardStreams.writeOutput((s + "\n"))
    }

    func ask(_ prompt: String) -> String? {
        StandardStreams.writeOutput(prompt)
        return input()
    }

    func run() throws {
        say("turbodiffusion \(runner.task) session (\(runner.modelName)). Models load with the first prompt and stay loaded.")
        say("Type a prompt (end a line with \\ to continue it), or /help.")
        while let line = ask("> ") {
            var text = line
            while text.hasSuffix("\\") {
                text.removeLast()
                guard let more = ask("… ") else { break }
                text += "\n" + more
            }
            let trimmed = text.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("/") {
                if try !command(trimmed) { break }
                continue
            }
            generate(trimmed)
        }
        runner.generator.releaseAll()
        say("bye")
    }

    /// Handles a slash command; false ends the session.
    func command(_ line: String) throws -> Bool {
        let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
        switch parts[0] {
        case "/quit", "/exit", "/q":
            return false
        case "/help", "/?":
            say("""
                /show                 the current settings
                /set <name> <value>   change one: \(names.joined(separator: ", "))
                /reset                settings back to the command line's
                /quit                 leave (models are released)
                Anything else is a prompt; end a line with \\ to continue on the next.
                """)
        case "/show":
            for (name, value) in shown { say("  \(name) = \(value)") }
        case "/reset":
            settings = initial
            say("settings reset")
        case "/set":
            guard parts.count == 3 else {
                say("usage: /set <name> <value>; names: \(names.joined(separator: ", "))")
                return true
            }
            do {
                try set(parts[1], parts[2])
                say("\(parts[1]) = \(shown.first { $0.0 == parts[1] }?.1 ?? parts[2])")
            } catch {
                say("error: \(error)")
            }
        default:
            say("unknown command \(parts[0]); /help lists them")
        }
        return true
    }

    var names: [String] {
        ["seed", "num_steps", "num_samples", "num_frames", "resolution", "aspect_ratio", "size", "sigma_max", "ode"]
            + (imageToVideo ? ["boundary", "adaptive_resolution", "image"] : [])
    }

    var shown: [(String, String)] {
        var s: [(String, String)] = [
            ("seed", "\(settings.seed)"), ("num_steps", "\(settings.steps)"), ("num_samples", "\(settings.samples)"),
            ("num_frames", "\(settings.frames)"), ("resolution", settings.resolution.rawValue),
            ("aspect_ratio", settings.aspectRatio.rawValue),
            ("size", settings.size.map { "\($0.width)x\($0.height)" } ?? "(from resolution and aspect_ratio)"),
            ("sigma_max", "\(settings.sigmaMax)"), ("ode", "\(settings.ode)"),
        ]
        if imageToVideo {
            s += [("boundary", "\(settings.boundary)"), ("adaptive_resolution", "\(settings.adaptiveResolution)"),
                  ("image", settings.image ?? "(asked for at the next prompt)")]
        }
        return s
    }

    func set(_ name: String, _ value: String) throws {
        func bad(_ why: String) -> GenerationCommandError { GenerationCommandError("\(name): \(why), got '\(value)'") }
        func bool() throws -> Bool {
            switch value.lowercased() {
            case "true", "on", "yes", "1": return true
            case "false", "off", "no", "0": return false
            default: throw bad("expected on or off")
            }
        }
        switch name {
        case "seed": guard let v = UInt64(value) else { throw bad("expected a non-negative integer") }; settings.seed = v
        case "num_steps": guard let v = Int(value), (1...4).contains(v) else { throw bad("expected 1, 2, 3 or 4") }; settings.steps = v
        case "num_samples": guard let v = Int(value), v >= 1 else { throw bad("expected at least 1") }; settings.samples = v
        case "num_frames":
            guard let v = Int(value), v >= 1, (v - 1) % 4 == 0 else { throw bad("expected 4n+1 (1, 5, …, 81)") }
            settings.frames = v
        case "resolution":
            guard let v = Resolution(rawValue: value) else { throw bad("expected 480p or 720p") }
            settings.resolution = v
            settings.size = nil
        case "size":
            guard let v = GenerationOptions.parseSize(value), VideoGeometry.problem(frames: 1, size: v) == nil else {
                throw bad("expected WxH with multiples of 16, e.g. 256x256")
            }
            settings.size = v
        case "aspect_ratio":
            guard let v = AspectRatio(rawValue: value) else { throw bad("expected \(AspectRatio.allCases.map(\.rawValue).joined(separator: ", "))") }
            settings.aspectRatio = v
            settings.size = nil
        case "sigma_max": guard let v = Double(value), v > 0 else { throw bad("expected a positive number") }; settings.sigmaMax = v
        case "ode": settings.ode = try bool()
        case "boundary" where imageToVideo:
            guard let v = Double(value), v >= 0, v <= 1 else { throw bad("expected a number in [0, 1]") }
            settings.boundary = v
        case "adaptive_resolution" where imageToVideo: settings.adaptiveResolution = try bool()
        case "image" where imageToVideo:
            guard FileManager.default.fileExists(atPath: value) else { throw bad("no such file") }
            settings.image = value
        default:
            throw GenerationCommandError("unknown setting '\(name)'; settings: \(names.joined(separator: ", "))")
        }
    }

    func generate(_ prompt: String) {
        do {
            _ = try PromptInput.cleaned(prompt)
            var size = settings.size ?? VideoGeometry.size(settings.resolution, settings.aspectRatio)
            var request = GenerationRequest(prompt: prompt)
            if imageToVideo {
                while settings.image == nil {
                    guard let path = ask("image path> ")?.trimmingWhitespace(newlines: false) else { return }
                    if FileManager.default.fileExists(atPath: path) { settings.image = path } else { say("no such file: \(path)") }
                }
                let image = try ImageDecoder.decode(path: settings.image!)
                if settings.adaptiveResolution {
                    size = VideoGeometry.adaptive(area: size, imageWidth: image.width, imageHeight: image.height)
                }
                request.image = image.pixels
                request.imageSize = VideoSize(width: image.width, height: image.height)
                request.boundary = settings.boundary
            }
            request.size = size
            request.frames = settings.frames
            request.samples = settings.samples
            request.steps = settings.steps
            request.sigmaMax = settings.sigmaMax
            request.ode = settings.ode
            request.seed = settings.seed
            let start = Date()
            let path = try runner.run(request, savePath: nil)
            say(String(printf: "saved %@ in %.1f s", path, Date().timeIntervalSince(start)))
        } catch let e as GenerationCancelled {
            say("\(e); nothing was written")
        } catch {
            say("error: \(error)")
        }
    }
}
