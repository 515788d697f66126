import Testing
import TensorCore
import BackendCPU
import Models
@testable import Pipeline

/// The generator with a memory plan: refusal before anything loads, placements handed to the
/// builders, resident models released when they do not fit together, and a device
/// out-of-memory failing one generation cleanly with the next one working.
@Suite struct GenerationMemoryTests {
    typealias Fakes = VideoGeneratorTests

    final class Trigger { var failAt: Int?; var calls = 0 }

    /// A DiT that throws what the CUDA allocator throws at its limit on call `failAt`.
    final class FailingDiT: VelocityModel {
        let inner: Fakes.FakeDiT, trigger: Trigger
        init(_ inner: Fakes.FakeDiT, _ trigger: Trigger) { (self.inner, self.trigger) = (inner, trigger) }
        var backend: any Backend { inner.backend }
        var inChannels: Int { inner.inChannels }
        func velocity(x: Tensor, timestep: Double, context: Tensor) throws -> Tensor {
            trigger.calls += 1
            if trigger.calls == trigger.failAt {
                throw TensorError.outOfMemory("requested 512 MiB with 224 MiB free under the device memory limit of 1024 MiB (--max_vram); this process holds 800 MiB in tensors")
            }
            return try inner.velocity(x: x, timestep: timestep, context: context)
        }
    }

    func request() -> GenerationRequest {
        var r = GenerationRequest(prompt: "p")
        (r.size, r.frames, r.steps) = (VideoSize(width: 16, height: 16), 1, 2)
        return r
    }

    func plan(_ dit: MemoryPlan.DiTResidency = .resident, keep: Bool = true) -> MemoryPlan {
        MemoryPlan(budget: MemoryBudget(bytes: 1 << 30, source: "test"), textEncoder: .host, dit: dit, decodeTiling: nil,
                   encodeTiling: nil, keepResident: keep, stages: [])
    }

    func generator(_ log: Fakes.Log, trigger: Trigger, resident: Bool = false, seen: @escaping (MemoryPlan?) -> Void = { _ in })
        -> VideoGenerator {
        VideoGenerator(
            textEncoder: Component("text", resident: resident, planned: { p in
                seen(p)
                log.events.append("load text"); return Fakes.FakeEncoder(log)
            }),
            vae: Component("vae", resident: resident) { log.events.append("load vae"); return Fakes.FakeVAE(log) },
            experts: [Component("dit", resident: resident, planned: { p in
                log.events.append("load dit \(p?.dit.rawValue ?? "unplanned")")
                return FailingDiT(Fakes.FakeDiT("dit", channels: 16, log), trigger)
            })])
    }

    @Test func refusalComesBeforeAnythingLoads() {
        let log = Fakes.Log()
        let g = generator(log, trigger: Trigger())
        g.planner = { _ in throw MemoryPlanError(description: "not enough device memory: denoise needs 30 GiB") }
        #expect(throws: MemoryPlanError.self) { try g.generate(request()) }
        #expect(log.events.isEmpty)
    }

    @Test func buildersReceiveThePlanAndRebuildWhenThePlacementChanges() throws {
        let log = Fakes.Log()
        var seen: [MemoryPlan.TextEncoderPlacement?] = []
        let g = generator(log, trigger: Trigger(), resident: true) { seen.append($0?.textEncoder) }
        g.planner = { _ in plan(.resident) }
        _ = try g.generate(request())
        _ = try g.generate(request())                    // resident: nothing is loaded again
        g.planner = { _ in plan(.streamed) }
        _ = try g.generate(request())                    // the DiT is rebuilt streamed; the encoder stays
        #expect(log.events.filter { $0.hasPrefix("load") } == ["load text", "load dit resident", "load vae", "load dit streamed block by block"])
        #expect(seen == [.host])
    }

    @Test func residentModelsAreReleasedWhenThePlanSaysTheyDoNotFitTogether() throws {
        let log = Fakes.Log()
        let g = generator(log, trigger: Trigger(), resident: true)
        g.planner = { _ in plan(keep: false) }
        _ = try g.generate(request())
        #expect(!g.textEncoder.isLoaded && !g.vae.isLoaded && !g.experts[0].isLoaded)
        #expect(g.textEncoder.requestedResident)         // a later plan with room keeps them again
        g.planner = { _ in plan(keep: true) }
        _ = try g.generate(request())
        #expect(g.textEncoder.isLoaded && g.vae.isLoaded && g.experts[0].isLoaded)
    }

    @Test func outOfMemoryFailsTheGenerationCleanlyAndTheNextOneRuns() throws {
        let log = Fakes.Log()
        let trigger = Trigger()
        trigger.failAt = 2
        let g = generator(log, trigger: trigger, resident: true)     // as in a serve session
        do {
            _ = try g.generate(request())
            Issue.record("the out-of-memory error was swallowed")
        } catch let PipelineError.outOfMemory(stage, message) {
            #expect(stage == .denoise)
            #expect(message.contains("512 MiB") && message.contains("1024 MiB") && message.contains("800 MiB"))
            #expect("\(PipelineError.outOfMemory(stage: stage, message))".contains("nothing was written"))
        }
        #expect(!log.events.contains("decode"))
        #expect(!g.textEncoder.isLoaded && !g.vae.isLoaded && !g.experts[0].isLoaded)   // memory handed back
        let video = try g.generate(request())                                           // the next prompt works
        #expect(video.frames.count == 1 && log.events.last == "decode")
    }
}
