import Testing
import Models
import TensorCore
@testable import Pipeline

/// The planner's arithmetic against the figures measured on an H200 (docs/performance.md) and its
/// decisions at the memory tiers of issue 12.
@Suite struct MemoryPlannerTests {
    static let gib = 1_073_741_824.0

    func request(_ size: VideoSize, frames: Int = 81, image: Bool = false) -> GenerationRequest {
        var r = GenerationRequest(prompt: "p")
        r.size = size
        r.frames = frames
        if image {
            r.image = [UInt8](repeating: 0, count: 16 * 16 * 3)
            r.imageSize = VideoSize(width: 16, height: 16)
        }
        return r
    }

    @Test func weightBytesMatchTheMeasuredModels() {
        // A W8A8 A14B expert file holds 14.53 GB; the 14B bf16 weights 26.6 GiB; umT5-XXL's blocks 8.63 GiB.
        let expert = MemoryFootprint.ditBytes(.wan22I2VA14B, type: .bf16, quantized: true, sparse: true)
        #expect(abs(Double(expert) / 14.53e9 - 1) < 0.01)
        let dense = MemoryFootprint.ditBytes(.wan21T2V14B, type: .bf16, quantized: false, sparse: true)
        #expect(abs(Double(dense) / Self.gib / 26.6 - 1) < 0.01)
        let t5 = MemoryFootprint.textEncoderBytes(.umt5XXL, type: .bf16)
        #expect(abs(Double(t5) / Self.gib / 8.63 - 1) < 0.01)
    }

    @Test func activationTermsLandNearTheMeasuredPeaks() {
        // 14B 720p bf16 SLA forward: 36.24 GiB peak with 26.6 GiB weights -> 9.6 GiB of activations.
        let big = MemoryFootprint.ditActivations(.wan21T2V14B, tokens: 21 * 45 * 80, type: .bf16, quantized: false,
                                                 attention: .sla(topk: 0.1))
        #expect(abs(Double(big) / Self.gib / 9.64 - 1) < 0.10)
        // 1.3B 480p bf16 SageSLA denoise: 4.97 GiB peak with the weights of the 1.3B model.
        let weights = MemoryFootprint.ditBytes(.wan21T2V1_3B, type: .bf16, quantized: false, sparse: true)
        let small = MemoryFootprint.ditActivations(.wan21T2V1_3B, tokens: 21 * 30 * 52, type: .bf16, quantized: false,
                                                   attention: .sagesla(topk: 0.1))
        #expect(abs(Double(weights + small) / Self.gib / 4.97 - 1) < 0.10)
    }

    @Test func quantizedI2V720pFitsTheTwentyFourGiBTier() throws {
        let input = MemoryPlanInput(dit: .wan22I2VA14B, quantized: true, computeType: .bf16, attention: .sla(topk: 0.1), experts: 2)
        let plan = try MemoryPlanner.plan(input, request: request(VideoSize(width: 1280, height: 720), image: true),
                                          budget: MemoryBudget(bytes: 24 << 30, source: "--max_vram 24"))
        #expect(plan.peak <= 24 << 30)
        #expect(plan.textEncoder == .device)
        #expect(plan.stages.map(\.name) == ["encode text", "encode image", "denoise", "decode"])
        // On an 80 GiB card the same run keeps the expert resident.
        let roomy = try MemoryPlanner.plan(input, request: request(VideoSize(width: 1280, height: 720), image: true),
                                           budget: MemoryBudget(bytes: 80 << 30, source: "free"))
        #expect(roomy.dit == .resident && roomy.decodeTiling == nil)
    }

    @Test func quantized1_3BAt480pFitsTwelveGiBResident() throws {
        let input = MemoryPlanInput(dit: .wan21T2V1_3B, quantized: true, computeType: .bf16, attention: .sagesla(topk: 0.1))
        let plan = try MemoryPlanner.plan(input, request: request(VideoSize(width: 832, height: 480)),
                                          budget: MemoryBudget(bytes: 12 << 30, source: "--max_vram 12"))
        #expect(plan.dit == .resident && plan.textEncoder == .device && plan.peak <= 12 << 30)
        #expect(plan.description.contains("denoise") && plan.description.contains("--max_vram 12"))
    }

    @Test func unquantized14BAt720pStreamsInTwentyFourGiB() throws {
        let input = MemoryPlanInput(dit: .wan21T2V14B, quantized: false, computeType: .bf16, attention: .sla(topk: 0.1))
        let plan = try MemoryPlanner.plan(input, request: request(VideoSize(width: 1280, height: 720)),
                                          budget: MemoryBudget(bytes: 24 << 30, source: "--max_vram 24"))
        #expect(plan.dit == .streamed && plan.peak <= 24 << 30)
        let roomy = try MemoryPlanner.plan(input, request: request(VideoSize(width: 1280, height: 720)),
                                           budget: MemoryBudget(bytes: 48 << 30, source: "free"))
        #expect(roomy.dit == .resident)
    }

    @Test func decodeTakesWholeChunksPerLayerWhereTheyFit() throws {
        let input = MemoryPlanInput(dit: .wan21T2V1_3B, quantized: true, computeType: .bf16, attention: .sla(topk: 0.1))
        let r = request(VideoSize(width: 832, height: 480))
        let wide = WanVAE.decodeMemory(config: input.vae, latentFrames: 21, height: 60, width: 104, dtype: input.vaeType,
                                       streaming: .wholeChunks)
        let grouped = WanVAE.decodeMemory(config: input.vae, latentFrames: 21, height: 60, width: 104, dtype: input.vaeType)
        #expect(wide.total > grouped.total)
        var seen: Set<Bool> = []
        for quarterGiB in stride(from: 12, through: 48, by: 1) {
            let budget = quarterGiB << 28
            guard let plan = try? MemoryPlanner.plan(input, request: r, budget: MemoryBudget(bytes: budget, source: "test")),
                  plan.decodeTiling == nil else { continue }
            let whole = plan.decodeStreaming == .wholeChunks
            seen.insert(whole)
            let decode = plan.stages.last!
            #expect(decode.name == "decode" && decode.peak <= budget)
            // Whole chunks exactly when their estimate fits; the stage reports the grouping it uses.
            #expect(whole == (wide.total + MemoryPlanner.reserve <= budget))
            #expect(decode.activations == (whole ? wide : grouped).total - wide.weights + MemoryPlanner.reserve)
        }
        #expect(seen == [true, false])
        // On a CPU-side VAE there is nothing to choose.
        var host = input
        host.vaeOnDevice = false
        #expect(try MemoryPlanner.plan(host, request: r, budget: MemoryBudget(bytes: 80 << 30, source: "test")).decodeStreaming == .reference)
    }

    @Test func textEncoderMovesToTheHostWhenItDoesNotFit() throws {
        let input = MemoryPlanInput(dit: .wan21T2V1_3B, quantized: true, computeType: .bf16, attention: .sagesla(topk: 0.1))
        let plan = try MemoryPlanner.plan(input, request: request(VideoSize(width: 832, height: 480)),
                                          budget: MemoryBudget(bytes: 8 << 30, source: "--max_vram 8"))
        #expect(plan.textEncoder == .host && plan.stages[0].peak == 0)
    }

    @Test func impossibleBudgetIsRefusedWithTheNumbersAndWhatWouldFit() {
        let input = MemoryPlanInput(dit: .wan21T2V14B, quantized: false, computeType: .bf16, attention: .sla(topk: 0.1))
        do {
            _ = try MemoryPlanner.plan(input, request: request(VideoSize(width: 1280, height: 720)),
                                       budget: MemoryBudget(bytes: 9 << 30, source: "--max_vram 9"))
            Issue.record("a 9 GiB budget for 14B 720p bf16 was accepted")
        } catch let e as MemoryPlanError {
            #expect(e.description.contains("not enough device memory: denoise needs"))
            #expect(e.description.contains("9.00 GiB available (--max_vram 9)"))
            #expect(e.description.contains("would fit: --quant_linear") || e.description.contains("would fit: --resolution 480p"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: MemoryPlanError.self) {
            try MemoryPlanner.plan(input, request: request(VideoSize(width: 832, height: 480)),
                                   budget: MemoryBudget(bytes: 1 << 30, source: "--max_vram 1"))
        }
    }

    @Test func sessionKeepsModelsOnlyWhenAllFit() throws {
        var input = MemoryPlanInput(dit: .wan21T2V1_3B, quantized: true, computeType: .bf16, attention: .sagesla(topk: 0.1))
        input.keepResident = true
        let r = request(VideoSize(width: 832, height: 480))
        #expect(try MemoryPlanner.plan(input, request: r, budget: MemoryBudget(bytes: 40 << 30, source: "free")).keepResident)
        #expect(try !MemoryPlanner.plan(input, request: r, budget: MemoryBudget(bytes: 12 << 30, source: "free")).keepResident)
    }
}
