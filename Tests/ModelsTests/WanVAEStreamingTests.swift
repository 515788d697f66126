import Foundation
import Testing
import TensorCore
import BackendCPU
import Checkpoints
@testable import Models

/// Chunked causal processing equals one pass over the whole clip, whatever the split; frame
/// counts map 4n + 1 ↔ n + 1.
@Suite struct WanVAEStreamingTests {
    let cpu = CPUBackend()
    var ctx: ComputeContext { ComputeContext(backend: cpu, dtype: .f32) }

    func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) throws -> Tensor {
        try vaeRandomTensor(shape, seed: seed, scale: scale)
    }

    static let schedules: [(String, VAEStreaming)] = [
        ("reference", .reference),
        ("reference, one frame per layer pass", VAEStreaming(chunks: .reference, passElements: 1)),
        ("2-frame calls", VAEStreaming(chunks: .sizes([2]), passElements: nil)),
        ("3 then 2", VAEStreaming(chunks: .sizes([3, 2]), passElements: 700)),
    ]

    @Test func decodeChunkedEqualsWholeClip() throws {
        let vae = try WanVAEParityTests.model(seed: 11, dtype: .f32, parts: .decoder)
        let z = try randomTensor([16, 4, 3, 5], seed: 1, scale: 2)
        let whole = try vae.decode(z, ctx, streaming: .wholeClip)
        #expect(whole.shape == [3, 13, 24, 40])
        let wholeValues = try whole.floats()
        for (name, s) in Self.schedules {
            let chunked = try vae.decode(z, ctx, streaming: s)
            #expect(chunked.shape == whole.shape)
            let err = relativeL2(try chunked.floats(), wholeValues)
            #expect(err <= 1e-6, "\(name): relative L2 \(err) from the whole-clip pass")
        }
    }

    @Test func encodeChunkedEqualsWholeClip() throws {
        let vae = try WanVAEParityTests.model(seed: 12, dtype: .f32, parts: .encoder)
        let video = try randomTensor([3, 13, 16, 24], seed: 2)
        let whole = try vae.encode(video, ctx, streaming: .wholeClip)
        #expect(whole.shape == [16, 4, 2, 3])
        let wholeValues = try whole.floats()
        for (name, s) in Self.schedules + [("single frames", VAEStreaming(chunks: .sizes([1]), passElements: nil))] {
            let chunked = try vae.encode(video, ctx, streaming: s)
            #expect(chunked.shape == whole.shape)
            let err = relativeL2(try chunked.floats(), wholeValues)
            #expect(err <= 1e-6, "\(name): relative L2 \(err) from the whole-clip pass")
        }
    }

    /// One-frame layer passes keep each cached piece as the tensor it was (a one-frame group's whole
    /// input), not a join of two frames: the cache holds exactly two frames per causal convolution
    /// (k_t = 3) and the decode is bit for bit the one of two-frame calls.
    @Test func oneFrameCachesHoldTwoFramesWithoutJoins() throws {
        let vae = try WanVAEParityTests.model(seed: 11, dtype: .f32, parts: .decoder)
        let z = try randomTensor([16, 3, 3, 5], seed: 4, scale: 2)
        let x = try vae.decoderInput(z, ctx)
        let state = VAECausalState(slots: vae.decoderSlots)
        let frameGroups = VAEStreaming(chunks: .reference, passElements: 1)
        let video = try WanVAE.stream(vae.decoderStages[...], x, state, ctx, frameGroups, encoding: false)!
        let pairs = try WanVAE.stream(vae.decoderStages[...], x, VAECausalState(slots: vae.decoderSlots), ctx,
                                      VAEStreaming(chunks: .sizes([2]), passElements: nil), encoding: false)!
        #expect(try video.floats().map(\.bitPattern) == pairs.floats().map(\.bitPattern))
        var pieces = 0
        for (slot, cached) in state.frames.enumerated() where !cached.isEmpty {
            #expect(cached.reduce(0) { $0 + $1.frameCount } == 2, "slot \(slot)")
            #expect(cached.allSatisfy(CausalConv3d.isWholeBuffer), "slot \(slot)")
            pieces += cached.count
        }
        #expect(pieces > state.frames.filter { !$0.isEmpty }.count, "some caches kept two one-frame pieces")
    }

    /// The chunk boundaries matter to the reference's cache logic only: frame 0 is the one a
    /// temporal resampler passes through, so a clip decoded in two halves (two clips) differs.
    @Test func stateIsWhatCarriesTheClip() throws {
        let vae = try WanVAEParityTests.model(seed: 11, dtype: .f32, parts: .decoder)
        let z = try randomTensor([16, 3, 2, 2], seed: 3)
        let whole = try vae.decode(z, ctx)                                           // [3, 9, 16, 16]
        let tail = try vae.decode(z.narrowed(dim: 1, start: 1, length: 2), ctx)      // [3, 5, 16, 16]
        // Frames 5..<9 of the clip are not what latent frame 2 decodes to after frame 1 alone.
        let a = try tail.narrowed(dim: 1, start: 1, length: 4).floats(), b = try whole.narrowed(dim: 1, start: 5, length: 4).floats()
        #expect(relativeL2(a, b) > 1e-3)
    }

    @Test func frameCountsMap4nPlus1ToNPlus1() throws {
        let c = WanVAEConfig.wan21
        #expect(c.videoFrames(latentFrames: 21) == 81 && c.latentFrames(videoFrames: 81) == 21)
        #expect(c.latentFrames(videoFrames: 1) == 1 && c.latentFrames(videoFrames: 6) == nil && c.latentFrames(videoFrames: 0) == nil)
        let vae = try WanVAEParityTests.model(seed: 13, dtype: .f32)
        for t in 1...3 {
            let video = try vae.decode(randomTensor([16, t, 1, 2], seed: UInt64(t)), ctx)
            #expect(video.shape == [3, 4 * (t - 1) + 1, 8, 16])
            let z = try vae.encode(video, ctx)
            #expect(z.shape == [16, t, 1, 2])
        }
    }

    @Test func badInputsAreNamed() throws {
        let vae = try WanVAEParityTests.model(seed: 13, dtype: .f32)
        let e1 = #expect(throws: TensorError.self) { try vae.encode(randomTensor([3, 6, 8, 8], seed: 1), ctx) }
        #expect("\(e1!)".contains("6 frames") && "\(e1!)".contains("4n + 1"))
        let e2 = #expect(throws: TensorError.self) { try vae.encode(randomTensor([3, 5, 12, 8], seed: 1), ctx) }
        #expect("\(e2!)".contains("12×8") && "\(e2!)".contains("multiples of 8"))
        let e3 = #expect(throws: TensorError.self) { try vae.decode(randomTensor([4, 2, 2, 2], seed: 1), ctx) }
        #expect("\(e3!)".contains("[16, T ≥ 1, h, w]"))
        let decoderOnly = try WanVAEParityTests.model(seed: 13, dtype: .f32, parts: .decoder)
        #expect(throws: ModelLoadError.self) { try decoderOnly.encode(randomTensor([3, 1, 8, 8], seed: 1), ctx) }
    }
}
