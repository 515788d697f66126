import Foundation
import Media
import Testing

/// Prompts worded in ways the demo models never saw in training (the held-out constructions of
/// training/captions.py, English and Chinese, with synonyms, distractor words and light backgrounds),
/// for held-out colour–shape–direction triples. The prompts, the world's colours and its backgrounds
/// come from models/demo/demo.json, which the export stage of training/train_all.py writes; models
/// trained before the caption grammar declare no `held_out_phrasings`, and this suite is then off.
enum DemoPhrasings {
    struct Case {
        let prompt: String, colour: String, motion: String, background: String, seed: Int
    }

    /// demo.json's `held_out_phrasings`, `world.colours` and `world.backgrounds` (RGB in 0–255), or nil
    /// when the file does not declare them.
    static let declared: (cases: [Case], colours: [String: (Double, Double, Double)],
                          backgrounds: [(name: String, rgb: (Double, Double, Double))])? = {
        let url = DemoFiles.root.appendingPathComponent("models/demo/demo.json")
        guard let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = root["held_out_phrasings"] as? [[String: Any]],
              let world = root["world"] as? [String: Any],
              let colours = world["colours"] as? [String: [Double]],
              let backgrounds = world["backgrounds"] as? [String: [Double]] else { return nil }
        func rgb(_ v: [Double]) -> (Double, Double, Double) { (v[0] * 255, v[1] * 255, v[2] * 255) }
        let cases = list.compactMap { e -> Case? in
            guard let p = e["prompt"] as? String, let c = e["colour"] as? String, let m = e["motion"] as? String,
                  let b = e["background"] as? String, let s = e["seed"] as? NSNumber else { return nil }
            return Case(prompt: p, colour: c, motion: m, background: b, seed: s.intValue)
        }
        return (cases, colours.mapValues(rgb), backgrounds.map { ($0.key, rgb($0.value)) }.sorted { $0.name < $1.name })
    }()
}

@Suite(.serialized, .enabled(if: DemoFiles.available && DemoPhrasings.declared != nil,
                             "models/demo/demo.json declares no held_out_phrasings (models trained before the caption grammar)"))
struct DemoHeldOutPhrasingTests {
    static let opposite = ["left": "right", "right": "left", "up": "down", "down": "up"]

    /// Every held-out-phrasing prompt of demo.json (16: each held-out triple twice) at 1, 2 and 4 steps.
    /// Counted per video: the prompted colour on screen (≥ 6 pixels within 80/255 in ≥ 3/4 of the
    /// frames), the colour moving the prompted way (centroid ≥ 3 px, as in DemoSemanticTests) and, as a
    /// control, the opposite way; the background nearest to the video's median colour among the world's
    /// backgrounds. Measured with the shipped models (2-core CPU, Philox seeds): colour on screen 11, 12,
    /// 14 of 16 at 1, 2, 4 steps; moving as prompted 8, 9, 13 (the opposite way 1, 0, 0); background right
    /// 14, 15, 16. The set before them (plain flow loss) got 8, 9, 8; 7, 8, 8; 15, 14, 14, the models
    /// trained on four caption templates 3, 2, 1; 2, 1, 0; 6, 5, 6. Required (floors under the measured
    /// counts): colour on screen in 9, 10, 12 of 16 and moving as prompted in 6, 7, 10, at least 3× as
    /// often as the opposite way; background right in ≥ 5/8. Issue 16 asks for colour in ≥ 90% and motion
    /// ≥ 75% at 4 steps (15 and 12 of 16): models/demo/README.md states how far these models are from it.
    @Test(arguments: [(1, 9, 6), (2, 10, 7), (4, 12, 10)])
    func heldOutPhrasingsShowTheColourMovingAsPrompted(_ steps: Int, _ colourFloor: Int, _ motionFloor: Int) throws {
        let world = try #require(DemoPhrasings.declared)
        #expect(world.cases.count >= 8, "demo.json lists only \(world.cases.count) held-out-phrasing prompts")
        let demo = DemoSemanticTests()
        var present = 0, moving = 0, opposite = 0, background = 0, failing: [String] = []
        for (i, c) in world.cases.enumerated() {
            let rgb = try #require(world.colours[c.colour], "demo.json has no colour \(c.colour)")
            let frames = try demo.generate(["t2v", "--model", "demo", "--prompt", c.prompt, "--num_steps", "\(steps)",
                                            "--seed", "\(c.seed)"], name: "phrasing_\(steps)_\(i)")
            let isPresent = DemoSemanticTests.present(frames, rgb: rgb)
            let isMoving = DemoSemanticTests.follows(frames, rgb: rgb, motion: c.motion)
            if isPresent { present += 1 }
            if isMoving { moving += 1 }
            if DemoSemanticTests.follows(frames, rgb: rgb, motion: Self.opposite[c.motion]!) { opposite += 1 }
            let m = DemoSemanticTests.medianColour(frames)
            let nearest = world.backgrounds.min { a, b in
                func d(_ x: (Double, Double, Double)) -> Double { pow(x.0 - m.0, 2) + pow(x.1 - m.1, 2) + pow(x.2 - m.2, 2) }
                return d(a.rgb) < d(b.rgb)
            }!
            if nearest.name == c.background { background += 1 }
            if !isMoving || nearest.name != c.background {
                failing.append("\(c.prompt) (seed \(c.seed)): colour \(isPresent ? "on screen" : "missing"), "
                               + "\(isMoving ? "moves" : "does not move") \(c.motion), background \(nearest.name)")
            }
        }
        let n = world.cases.count
        print("demo held-out phrasings, \(steps) step(s): colour present \(present)/\(n), moving as prompted \(moving)/\(n) "
              + "(opposite \(opposite)/\(n)), background \(background)/\(n); failing: \(failing)")
        #expect(present * 16 >= n * colourFloor, "\(steps) steps: the colour is on screen in only \(present)/\(n): \(failing)")
        #expect(moving * 16 >= n * motionFloor, "\(steps) steps: only \(moving)/\(n) move as prompted: \(failing)")
        #expect(opposite * 3 <= moving, "\(steps) steps: \(opposite) move the opposite way, \(moving) as prompted")
        #expect(background * 8 >= n * 5, "\(steps) steps: background right for only \(background)/\(n): \(failing)")
    }
}
