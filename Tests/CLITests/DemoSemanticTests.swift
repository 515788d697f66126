import Foundation
import Media
import Testing

/// What the trained demo models (models/demo) must show, measured on the frames the real program
/// writes: for held-out colour–shape–direction prompts (never seen in training), the prompted colour
/// is on screen and its centroid moves the prompted way, at 1, 2 and 4 steps; the background is the
/// prompted one; the 4-step student stays near the teacher; I2V starts from the image.
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
        follows(frames, rgb: palette[colour]!, motion: motion)
    }

    /// The colour is on screen (6 pixels within the radius) in at least 3/4 of the frames.
    static func present(_ frames: [RGBImage], rgb: (Double, Double, Double)) -> Bool {
        frames.compactMap { centroid($0, rgb) }.count * 4 >= frames.count * 3
    }

    static func follows(_ frames: [RGBImage], rgb: (Double, Double, Double), motion: String) -> Bool {
        let c = frames.map { centroid($0, rgb) }
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

    /// The world's background colours (training/world.py), 0–255.
    static let backgrounds: [(name: String, rgb: (Double, Double, Double))] = [
        ("black", (12.75, 12.75, 12.75)), ("gray", (114.75, 114.75, 114.75)), ("navy", (20.4, 25.5, 89.25)),
        ("brown", (102, 63.75, 25.5)), ("dark green", (12.75, 76.5, 30.6)),
    ]

    /// The per-channel median over every pixel of every frame.
    static func medianColour(_ frames: [RGBImage]) -> (Double, Double, Double) {
        func median(_ c: Int) -> Double {
            var v = frames.flatMap { f in stride(from: c, to: f.pixels.count, by: 3).map { f.pixels[$0] } }
            v.sort()
            return Double(v[v.count / 2])
        }
        return (median(0), median(1), median(2))
    }

    /// Held-out prompts name a background too: the video's median colour must be nearest to it among
    /// the five dark backgrounds of the world, for at least 5 of 8 prompts (chance: 1.6; the shipped
    /// models get 8, 8 and 8 at 1, 2 and 4 steps), English and Chinese.
    @Test(arguments: [1, 2, 4])
    func backgroundFollowsThePrompt(_ steps: Int) throws {
        let zh = ["black": "黑色", "gray": "灰色", "navy": "深蓝色", "brown": "棕色", "dark green": "深绿色"]
        let zhColour = ["red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色", "orange": "橙色", "white": "白色"]
        let zhShape = ["circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形"]
        let zhMotion = ["left": "向左移动", "right": "向右移动", "up": "向上移动", "down": "向下移动"]
        var right = 0, report: [String] = []
        for (i, t) in Self.heldOut.enumerated() {
            let bg = Self.backgrounds[i % Self.backgrounds.count]
            let prompt = i % 4 == 3
                ? "\(zhColour[t.colour]!)的\(zhShape[t.shape]!)\(zhMotion[t.motion]!)，\(zh[bg.name]!)背景"
                : "a \(t.colour) \(t.shape) moving \(t.motion) on a \(bg.name) background"
            let frames = try generate(["t2v", "--model", "demo", "--prompt", prompt, "--num_steps", "\(steps)", "--seed", "\(i)"],
                                      name: "bg_\(steps)_\(i)")
            let m = Self.medianColour(frames)
            let nearest = Self.backgrounds.min { a, b in
                func d(_ c: (Double, Double, Double)) -> Double { pow(c.0 - m.0, 2) + pow(c.1 - m.1, 2) + pow(c.2 - m.2, 2) }
                return d(a.rgb) < d(b.rgb)
            }!
            if nearest.name == bg.name { right += 1 } else { report.append("\(prompt) → \(nearest.name)") }
        }
        print("demo semantic check, \(steps) step(s): background right for \(right)/\(Self.heldOut.count) held-out prompts; wrong: \(report)")
        #expect(right * 8 >= Self.heldOut.count * 5, "\(steps) steps: background right for only \(right)/\(Self.heldOut.count): \(report)")
    }

    static let opposite = ["left": "right", "right": "left", "up": "down", "down": "up"]

    /// Each held-out prompt with two seeds (16 videos per step count). A video passes when the prompted
    /// colour is on screen and its centroid moves the prompted way; as a control, the same videos are
    /// checked against the opposite direction, which a model ignoring the motion words would pass as
    /// often. Measured with the shipped models (2-core CPU, Philox seeds 0–15): 1 step 10/16 prompted vs
    /// 0/16 opposite, 2 steps 13/16 vs 1/16, 4 steps 15/16 vs 0/16 (the set before them 6, 8, 9; the
    /// models trained on four caption templates, this one among them: 6, 8, 11); the training-side
    /// evaluation (stricter thresholds, 64 videos, torch noise, train phrasings) gives pass rates 0.47,
    /// 0.53 and 0.66 (models/demo/README.md). Required: 7, 10 and 12 of 16, and at least three times as
    /// many as the opposite way.
    @Test(arguments: [(1, 7), (2, 10), (4, 12)])
    func heldOutPromptsShowTheColourMovingAsPrompted(_ steps: Int, _ required: Int) throws {
        var passed: [String] = [], failed: [String] = [], againstOpposite = 0
        for seed in 0..<(2 * Self.heldOut.count) {
            let t = Self.heldOut[seed % Self.heldOut.count]
            let prompt = "A \(t.colour) \(t.shape) \(Self.motionWords[t.motion]!)."
            let frames = try generate(["t2v", "--model", "demo", "--prompt", prompt, "--num_steps", "\(steps)", "--seed", "\(seed)"],
                                      name: "t2v_\(steps)_\(seed)")
            #expect(frames.count == 17 && frames[0].width == 64 && frames[0].height == 64)
            if Self.follows(frames, colour: t.colour, motion: t.motion) { passed.append(prompt) } else { failed.append("\(prompt) seed \(seed)") }
            if Self.follows(frames, colour: t.colour, motion: Self.opposite[t.motion]!) { againstOpposite += 1 }
        }
        let n = 2 * Self.heldOut.count
        print("demo semantic check, \(steps) step(s): \(passed.count)/\(n) held-out videos move as prompted, \(againstOpposite)/\(n) the opposite way; failing: \(failed)")
        #expect(passed.count >= required, "\(steps) steps: only \(passed.count)/\(n) pass (need \(required)); failing \(failed)")
        #expect(againstOpposite * 3 <= passed.count, "\(steps) steps: \(againstOpposite) videos move the opposite way, \(passed.count) as prompted")
    }

    /// The 4-step student against the many-step teacher it was distilled from (the teacher is not shipped:
    /// Tests/CLITests/Fixtures/demo_teacher holds its 32-step CFG ODE videos, made by
    /// `training/train_all.py --stages engine_fixtures` from the same Philox noise the engine draws for
    /// `--seed`). RMS in [0, 1] pixel units: the training side measures 0.17–0.21 per case (cases.json),
    /// the engine 0.209, 0.205, 0.169, 0.211 (mean 0.20), while its videos lie 0.47 on average from the
    /// other cases' teacher videos. Bound: mean ≤ 0.25 and at most 0.8 × the mean distance to the others.
    @Test func fourStepStudentStaysNearTheTeacher() throws {
        let dir = Self.root.appendingPathComponent("Tests/CLITests/Fixtures/demo_teacher")
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cases.json"))) as! [String: Any]
        let cases = meta["cases"] as! [[String: Any]]
        let teachers = try cases.map { c in
            try Self.frames(ofStrip: ImageDecoder.decode(path: dir.appendingPathComponent(c["teacher"] as! String).path), count: 17)
        }
        var own: [Double] = [], cross: [Double] = [], report: [String] = []
        for (i, c) in cases.enumerated() {
            let frames = try generate(["t2v", "--model", "demo", "--prompt", c["prompt"] as! String, "--num_steps", "4",
                                       "--seed", "\((c["seed"] as! NSNumber).intValue)"], name: "teacher_\(i)")
            let d = teachers.map { Self.rms(frames, $0) }
            let others = d.enumerated().filter { $0.offset != i }.map(\.element)
            let otherMean = others.reduce(0, +) / Double(others.count)
            own.append(d[i])
            cross.append(otherMean)
            report.append(String(format: "case %d: %.3f to its teacher, %.3f to the others", i, d[i], otherMean))
        }
        let mean = own.reduce(0, +) / Double(own.count), crossMean = cross.reduce(0, +) / Double(cross.count)
        print("demo student vs teacher (4 steps): mean RMS \(mean), to other prompts' teacher videos \(crossMean); \(report)")
        #expect(mean <= 0.25, "mean RMS to the teacher \(mean) > 0.25: \(report)")
        #expect(mean <= 0.8 * crossMean, "mean RMS to the teacher \(mean) vs \(crossMean) to other prompts' videos: \(report)")
    }

    /// A horizontal strip of `count` equal frames → the frames.
    static func frames(ofStrip strip: RGBImage, count: Int) throws -> [RGBImage] {
        let w = strip.width / count
        return try (0..<count).map { f in
            var px = [UInt8]()
            px.reserveCapacity(w * strip.height * 3)
            for y in 0..<strip.height {
                let row = (y * strip.width + f * w) * 3
                px += strip.pixels[row..<row + w * 3]
            }
            return try RGBImage(width: w, height: strip.height, pixels: px)
        }
    }

    /// Root mean square difference in [0, 1] units over all frames and channels.
    static func rms(_ a: [RGBImage], _ b: [RGBImage]) -> Double {
        var sum = 0.0, n = 0
        for (x, y) in zip(a, b) {
            for (p, q) in zip(x.pixels, y.pixels) {
                let d = (Double(p) - Double(q)) / 255
                sum += d * d
            }
            n += x.pixels.count
        }
        return (sum / Double(n)).squareRoot()
    }

    @Test func imageToVideoStartsFromTheImage() throws {
        let frames = try generate(["i2v", "--model", "demo", "--prompt", "A red circle moves to the right.", "--num_steps", "4"], name: "i2v")
        let input = try ImageDecoder.decode(path: Self.root.appendingPathComponent("models/demo/sample_i2v.png").path)
        var sum = 0.0
        for (a, b) in zip(frames[0].pixels, input.pixels) { sum += abs(Double(a) - Double(b)) }
        let meanError = sum / Double(input.pixels.count)
        print("demo i2v: first frame differs from the input image by \(meanError) levels on average")
        #expect(meanError <= 20, "first frame is \(meanError) levels from the image")          // 0.08 in [0, 1] units
        // The same prompt from the image of another clip starts elsewhere: the image really conditions.
        #expect(meanError < 0.5 * Self.meanDifference(frames[0], Self.solid(input.width, input.height, 128)))
    }

    static func solid(_ w: Int, _ h: Int, _ v: UInt8) -> RGBImage { try! RGBImage(width: w, height: h, pixels: [UInt8](repeating: v, count: w * h * 3)) }

    static func meanDifference(_ a: RGBImage, _ b: RGBImage) -> Double {
        zip(a.pixels, b.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(a.pixels.count)
    }
}
