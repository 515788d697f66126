import Models
import Testing

/// FLOP counts against numbers worked out by hand for Wan2.1-1.3B at 480p, 81 frames
/// (21 × 30 × 52 = 32 760 tokens), 512 text rows, and umT5-XXL on 512 tokens.
@Suite struct FLOPCountTests {
    let config: WanDiTConfig = {
        var c = WanDiTConfig.wan21T2V1_3B
        c.textLength = 512
        return c
    }()
    let tokens = 21 * 30 * 52

    @Test func denseForwardOf1_3BIs283TFLOPWithSelfAttention198() {
        let f = config.forwardFLOPs(tokens: tokens, attention: .original)
        let (n, d, ffn, txt, layers) = (32760.0, 1536.0, 8960.0, 512.0, 30.0)
        // Per block: self q/k/v/o 8·n·d², cross q/o 4·n·d², cross k/v 4·txt·d², FFN 4·n·d·ffn.
        let linears = layers * (8 * n * d * d + 4 * n * d * d + 4 * txt * d * d + 4 * n * d * ffn)
        let selfAttention = layers * 4 * n * n * d, crossAttention = layers * 4 * n * txt * d
        #expect(abs(linears / 1e12 - 82.073) < 1e-3)
        #expect(abs(selfAttention / 1e12 - 197.815) < 1e-3)
        // Outside the blocks: patch embedding (64 → d), text MLP (4096 → d → d), time MLP and
        // modulation on one row, head (d → 64): 0.022 TFLOP.
        let outer = 2 * n * 64 * d + 2 * txt * (4096 * d + d * d) + 2 * (256 * d + d * d + 6 * d * d) + 2 * n * d * 64
        #expect(abs(f.linear - (linears + outer)) <= 1e-9 * f.linear)
        #expect(abs(f.attention - (selfAttention + crossAttention)) <= 1e-9 * f.attention)
        #expect(f.convolution == 0)
        #expect((f.total / 1e12 * 10).rounded() / 10 == 283.0)
    }

    @Test func slaForwardCountsTheKeptKeyBlocksAndTheLinearBranch() {
        let f = config.forwardFLOPs(tokens: tokens, attention: .sla(topk: 0.1))
        let (n, d, txt, layers, headDim) = (32760.0, 1536.0, 512.0, 30.0, 128.0)
        // 512 key blocks of 64; ⌊0.1·512⌋ = 51 kept → 3 264 keys per query (a 0.0996 share).
        let sparse = layers * 4 * n * (51 * 64) * d
        // Linear branch per head: φ(k)ᵀv, φ(q)·(φ(k)ᵀv), proj_l (head_dim × head_dim): 3 · 2·n·D·d.
        let linearBranch = layers * 3 * 2 * n * headDim * d
        let cross = layers * 4 * n * txt * d
        #expect(abs(f.attention - (sparse + linearBranch + cross)) <= 1e-9 * f.attention)
        // 106.05 TFLOP; the nominal share (0.1 of dense) without proj_l gives 105.7.
        #expect(abs(f.total / 1e12 - 106.055) < 1e-3)
        let nominal = f.total - sparse - layers * 2 * n * headDim * d + layers * 0.1 * 4 * n * n * d
        #expect((nominal / 1e12 * 10).rounded() / 10 == 105.7)
        // SageSLA with upstream's Hopper blocks (64 × 128): 256 key blocks, 25 kept.
        let sage = config.forwardFLOPs(tokens: tokens, attention: .sagesla(topk: 0.1))
        #expect(abs(sage.attention - (layers * 4 * n * (25 * 128) * d + linearBranch + cross)) <= 1e-9 * sage.attention)
    }

    @Test func umT5XXLOn512TokensIs4Point84TFLOP() {
        let f = UMT5Config.umt5XXL.encodeFLOPs(tokens: 512)
        let (l, d, ffn) = (512.0, 4096.0, 10240.0)
        #expect(f.linear == 24 * (8 * l * d * d + 6 * l * d * ffn))
        #expect(f.attention == 24 * 4 * l * l * d)
        #expect(abs(f.total / 1e12 - 4.845) < 1e-3)
    }

    @Test func vaeCountsGrowByOneChunkPerLatentFrame() {
        // Every latent frame after the first decodes to 4 frames through the same convolutions, so
        // the count is affine in T; the first frame (not upsampled in time) costs less.
        let vae = WanVAEConfig.wan21
        let d = (1...4).map { vae.decodeFLOPs(latentFrames: $0, height: 60, width: 104).total }
        #expect(d[2] - d[1] == d[1] - d[0] && d[3] - d[2] == d[1] - d[0])
        #expect(d[0] < d[1] - d[0])
        // The head alone: 3×3×3, 96 → 3 channels on every output pixel (81 frames at 480p).
        let head = 2.0 * 81 * 480 * 832 * 96 * 3 * 27
        #expect(vae.decodeFLOPs(latentFrames: 21, height: 60, width: 104).convolution > 40 * head)
        let e = (0...3).map { vae.encodeFLOPs(videoFrames: 1 + 4 * $0, height: 480, width: 832).total }
        #expect(e[2] - e[1] == e[1] - e[0] && e[3] - e[2] == e[1] - e[0])
    }
}
