import Foundation
import Media
import Testing

/// What the trained demo models (models/demo) must show, measured on the frames the real program
/// writes: for held-out colour–shape–direction prompts (never seen in training), the prompted colour
/// is on screen and its centroid moves the prompted way, at 1, 2 and 4 steps; I2V starts from the image.
enum DemoFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var available: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("models/demo/dit_t2v.pth").path) }
}

@Suite(.serialized, .enabled(if: DemoFiles.available, "models/demo is not in this checkout"))
struct DemoSemanticTests {
    static let root = DemoFiles.root

    /// The synthetic world's palette (training/world.py), 0–255.
    static let palette: [String: (Double, Double, Double)] = [
        "red": (230, 26, 26), "green": (26, 204, 51), "blue": (38, 77, 242), "yellow": (242, 230, 26),
        "purple": (153, 51, 204), "orange": (255, 140, 13), "white": (242, 242, 242),
    ]
    /// Held-out triples (training/world.py HELD_OUT) with a straight motion.
    static let heldOut: [(colour: String, shape: String, motion: String)] = [
        ("red", "square", "right"), ("green", "triangle", "left"), ("blue", "circle", "up"), ("yellow", "star", "down"),
        ("purple", "square", "left"), ("orange", "circle", "down"), ("white", "star", "right"), ("red", "triangle", "up"),
    ]
    static let motionWords = ["left": "moves to the left", "right": "moves to the right", "up": "moves up", "down": "moves down"]

    let scratch: URL = {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("td-demo-\(UInt32.random(in: 0 ... .max))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }()

    /// Runs the program and returns the frames it wrote.
    func generate(_ arguments: [String], name: String) throws -> [RGBImage] {
        let dir = scratch.appendingPathComponent(name)
        let r = try CLI.run(arguments + ["--frames_dir", dir.path, "--save_path", scratch.appendingPathComponent("\(name).mp4").path,
                                         "--video_writer", "builtin"], directory: Self.root)
        #expect(r.status == 0, "\(r.stderr)")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map {
            try ImageDecoder.decode(path: dir.appendingPathComponent($0).path)
        }
    }

    /// Centroid of the pixels close to `colour` (nil when fewer than 6 are).
    static func centroid(_ im: RGBImage, _ colour: (Double, Double, Double)) -> (x: Double, y: Double)? {
        var n = 0.0, sx = 0.0, sy = 0.0
        for y in 0..<im.height {
            for x in 0..<im.width {
                let p = im[x, y]
                let d = (Double(p.r) - colour.0) * (Double(p.r) - colour.0) + (Double(p.g) - colour.1) * (Double(p.g) - colour.1)
                    + (Double(p.b) - colour.2) * (Double(p.b) - colour.2)
                if d < 80 * 80 { n += 1; sx += Double(x); sy += Double(y) }
            }
        }
        return n >= 6 ? (sx / n, sy / n) : nil
    }

    /// Present in at least 3/4 of the frames, and the centroid of the last quarter lies at least 3 px
    /// from the first quarter's in the prompted direction.
    static func follows(_ frames: [RGBImage], colour: String, motion: String) -> Bool {
        let c = frames.map { centroid($0, palette[colour]!) }
        guard c.compactMap({ $0 }).count * 4 >= frames.count * 3 else { return false }
        let q = max(1, frames.count / 4)
        func mean(_ s: ArraySlice<(x: Double, y: Double)?>) -> (Double, Double)? {
            let v = s.compactMap { $0 }
            return v.isEmpty ? nil : (v.map(\.x).reduce(0, +) / Double(v.count), v.map(\.y).reduce(0, +) / Double(v.count))
        }
        guard let a = mean(c.prefix(q)), let b = mean(c.suffix(q)) else { return false }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1)
        switch motion {
        case "left": return dx <= -3
        case "right": return dx >= 3
        case "up": return dy <= -3
        default: return dy >= 3
        }
    }

    @Test(arguments: [1, 2, 4])
    func heldOutPromptsShowTheColourMovingAsPrompted(_ steps: Int) throws {
        var passed: [String] = [], failed: [String] = []
        for (i, t) in Self.heldOut.enumerated() {
            let prompt = "A \(t.colour) \(t.shape) \(Self.motionWords[t.motion]!)."
            let frames = try generate(["t2v", "--model", "demo", "--prompt", prompt, "--num_steps", "\(steps)", "--seed", "\(i)"],
                                      name: "t2v_\(steps)_\(i)")
            #expect(frames.count == 17 && frames[0].width == 64 && frames[0].height == 64)
            (Self.follows(frames, colour: t.colour, motion: t.motion) ? { passed.append(prompt) } : { failed.append(prompt) })()
        }
        print("demo semantic check, \(steps) step(s): \(passed.count)/\(Self.heldOut.count) held-out prompts pass; failing: \(failed)")
        #expect(passed.count * 4 >= Self.heldOut.count * 3, "\(steps) steps: only \(passed.count)/\(Self.heldOut.count) pass; failing \(failed)")
    }

    @Test func imageToVideoStartsFromTheImage() throws {
        let frames = try generate(["i2v", "--model", "demo", "--prompt", "A red circle moves to the right.", "--num_steps", "4"], name: "i2v")
        let input = try ImageDecoder.decode(path: Self.root.appendingPathComponent("models/demo/sample_i2v.png").path)
        var sum = 0.0
        for (a, b) in zip(frames[0].pixels, input.pixels) { sum += abs(Double(a) - Double(b)) }
        let meanError = sum / Double(input.pixels.count)
        print("demo i2v: first frame differs from the input image by \(meanError) levels on average")
        #expect(meanError <= 20, "first frame is \(meanError) levels from the image")
    }
}
