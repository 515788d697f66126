import Foundation
import Testing
@testable import TurboDiffusionServer

@Suite struct JobRequestTests {
    let models = FakeExecutor().models()

    func parse(_ json: String) throws -> JobRequest {
        try JobRequest.parse(Data(json.utf8), models: models) { $0 == "t2v" ? "demo" : "Wan2.2-A14B" }
    }

    /// The field an invalid body is refused for.
    func field(_ json: String) -> String? {
        do {
            _ = try parse(json)
            return nil
        } catch let e as APIError {
            #expect(e.status.code == 400, "\(json): \(e)")
            return e.field ?? "(no field: \(e.message))"
        } catch {
            return "(unexpected \(error))"
        }
    }

    @Test func defaultsAndUpstreamNames() throws {
        let r = try parse(#"{"prompt": "a cat", "seed": 42}"#)
        #expect(r.task == "t2v" && r.model == "demo" && r.numSteps == 4 && r.seed == 42 && r.aspectRatio == "16:9")
        #expect(r.attentionType == "sagesla" && !r.quantLinear && r.numSamples == 1 && r.numFrames == nil && r.image == nil)
        let full = try parse(#"""
            {"task": "i2v", "model": "Wan2.2-A14B", "prompt": "p", "num_steps": 2, "seed": 7, "resolution": "720p",
             "aspect_ratio": "1:1", "size": "256x128", "num_frames": 33, "attention_type": "sla", "sla_topk": 0.15,
             "quant_linear": true, "sigma_max": 120, "ode": true, "boundary": 0.5, "adaptive_resolution": true,
             "num_samples": 2, "image": "u0123456789abcdef", "frames": true}
            """#)
        #expect(full.frames && !r.frames)
        #expect(full.numSteps == 2 && full.size == "256x128" && full.numFrames == 33 && full.slaTopk == 0.15 && full.quantLinear)
        #expect(full.sigmaMax == 120 && full.ode && full.boundary == 0.5 && full.adaptiveResolution && full.numSamples == 2)
        #expect(full.image == "u0123456789abcdef" && full.resolution == "720p" && full.aspectRatio == "1:1")
    }

    @Test func randomSeedsAreChosenAndExactInJavaScript() throws {
        let a = try parse(#"{"prompt": "a", "seed": "random"}"#), b = try parse(#"{"prompt": "a"}"#)
        #expect(Double(a.seed) < JobRequest.seedLimit && Double(b.seed) < JobRequest.seedLimit)
        #expect(try parse(#"{"prompt": "a", "seed": null}"#).seed != a.seed || a.seed != b.seed)
    }

    @Test func everyErrorNamesItsField() {
        #expect(field(#"{"prompt": ""}"#) == "prompt")
        #expect(field(#"{"prompt": "   "}"#) == "prompt")
        #expect(field(#"{"seed": 1}"#) == "prompt")
        #expect(field(#"{"prompt": 5}"#) == "prompt")
        #expect(field(#"{"prompt": "a", "task": "v2v"}"#) == "task")
        #expect(field(#"{"prompt": "a", "model": "nope"}"#) == "model")
        #expect(field(#"{"prompt": "a", "model": "Wan2.2-A14B"}"#) == "model")   // i2v only
        #expect(field(#"{"prompt": "a", "num_steps": 0}"#) == "num_steps")
        #expect(field(#"{"prompt": "a", "num_steps": 2.5}"#) == "num_steps")
        #expect(field(#"{"prompt": "a", "num_steps": true}"#) == "num_steps")
        #expect(field(#"{"prompt": "a", "seed": -1}"#) == "seed")
        #expect(field(#"{"prompt": "a", "seed": "lucky"}"#) == "seed")
        #expect(field(#"{"prompt": "a", "seed": 1e300}"#) == "seed")
        #expect(field(#"{"prompt": "a", "resolution": "1080p"}"#) == "resolution")
        #expect(field(#"{"prompt": "a", "frames": 1}"#) == "frames")
        #expect(field(#"{"prompt": "a", "frames": "yes"}"#) == "frames")
        #expect(field(#"{"prompt": "a", "aspect_ratio": "2:1"}"#) == "aspect_ratio")
        #expect(field(#"{"prompt": "a", "size": "100x100"}"#) == "size")
        #expect(field(#"{"prompt": "a", "size": "big"}"#) == "size")
        #expect(field(#"{"prompt": "a", "size": "99999x16"}"#) == "size")
        #expect(field(#"{"prompt": "a", "num_frames": 10}"#) == "num_frames")
        #expect(field(#"{"prompt": "a", "num_frames": 1001}"#) == "num_frames")
        #expect(field(#"{"prompt": "a", "attention_type": "flash"}"#) == "attention_type")
        #expect(field(#"{"prompt": "a", "sla_topk": 0}"#) == "sla_topk")
        #expect(field(#"{"prompt": "a", "quant_linear": 1}"#) == "quant_linear")
        #expect(field(#"{"prompt": "a", "sigma_max": -3}"#) == "sigma_max")
        #expect(field(#"{"prompt": "a", "ode": "yes"}"#) == "ode")
        #expect(field(#"{"prompt": "a", "num_samples": 9}"#) == "num_samples")
        #expect(field(#"{"prompt": "a", "boundary": 0.5}"#) == "boundary")            // t2v takes none
        #expect(field(#"{"prompt": "a", "image": "u0123456789abcdef"}"#) == "image")  // t2v takes none
        #expect(field(#"{"prompt": "a", "task": "i2v", "model": "demo", "boundary": 2}"#) == "boundary")
        #expect(field(#"{"prompt": "a", "task": "i2v", "model": "demo", "image": "../../etc/passwd"}"#) == "image")
        #expect(field(#"{"prompt": "a", "task": "i2v"}"#) == "image")                // Wan2.2 needs an upload
        #expect(field(#"{"prompt": "a", "num_step": 4}"#) == "num_step")             // misspelt: unknown field
        #expect(field(String(repeating: "x", count: 3) + "{") == "(no field: the body is not valid JSON)")
        #expect(field("[1, 2]") == "(no field: the body must be a JSON object)")
        #expect(field(#"{"prompt": "\#(String(repeating: "a", count: 4001))"}"#) == "prompt")
    }

    @Test func demoI2VNeedsNoImage() throws {
        let r = try parse(#"{"prompt": "a", "task": "i2v", "model": "demo"}"#)
        #expect(r.task == "i2v" && r.image == nil && r.boundary == 0.9)
    }
}
