import Foundation
import Models
import Testing

/// `turbodiffusion bench pipeline` on the CPU at narrow widths (`--tiny-widths`: DiT 64 wide with 2
/// heads, umT5 64 wide with a 1 024-row vocabulary, VAE base width 8): the stage table has the
/// pipeline's rows in order, and each row's FLOPs are the counts of the shapes it ran.
@Suite struct BenchPipelineCommandTests {
    /// STAGE lines as (name, seconds, TFLOP, peak bytes).
    func stages(_ stdout: String) -> [(name: String, seconds: Double, tflop: Double, peak: Int)] {
        stdout.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 5, f[0] == "STAGE", let s = Double(f[2]), let t = Double(f[3]), let p = Int(f[4]) else { return nil }
            return (String(f[1]), s, t, p)
        }
    }

    func tinyDiT(inChannels: Int) -> WanDiTConfig {
        WanDiTConfig(dim: 64, ffnDim: 128, numHeads: 2, numLayers: 2, inChannels: inChannels, outChannels: 16, textDim: 64)
    }
    let tinyText = UMT5Config(vocabSize: 1024, dim: 64, attentionDim: 64, ffnDim: 128, numHeads: 2, numLayers: 2)
    let tinyVAE = WanVAEConfig(dim: 8, zDim: 16)

    func close(_ tflop: Double, _ flops: FLOPCount) -> Bool { abs(tflop * 1e12 - flops.total) <= 1e-6 * flops.total }

    @Test func textToVideoRowsAndFLOPs() throws {
        let r = try CLI.run(["bench", "pipeline", "--tiny-widths", "--layers", "2", "--frames", "9", "--size", "64x48",
                             "--num_steps", "3", "--device", "cpu"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("warm-up") && r.stdout.contains("not counted"))
        let rows = stages(r.stdout)
        #expect(rows.map(\.name) == ["umt5_encode", "dit_step_1", "dit_step_2", "dit_step_3", "vae_decode", "mp4_write", "total"])
        guard rows.count == 7 else { return }
        // 9 frames at 64×48: latent 3 × 6 × 8, 3 × 3 × 4 = 36 tokens.
        #expect(close(rows[0].tflop, tinyText.encodeFLOPs(tokens: 512)))
        let step = tinyDiT(inChannels: 16).forwardFLOPs(tokens: 36, attention: .original)
        for i in 1...3 { #expect(close(rows[i].tflop, step)) }
        #expect(close(rows[4].tflop, tinyVAE.decodeFLOPs(latentFrames: 3, height: 6, width: 8)))
        #expect(rows[5].tflop == 0)
        #expect(abs(rows[6].tflop - rows[..<6].reduce(0) { $0 + $1.tflop }) <= 1e-6 * rows[6].tflop)
        #expect(abs(rows[6].seconds - rows[..<6].reduce(0) { $0 + $1.seconds }) < 1e-4)
        #expect(rows.allSatisfy { $0.seconds > 0 && $0.peak == -1 })      // the CPU keeps no allocator peaks
        // Each step split into its parts (stderr), which add up to no more than the step's row.
        for i in 1...3 {
            let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("dit_step_\(i) split: upload ") }
            #expect(line != nil, "no split line for step \(i)")
            let ms = line.map { l in l.split(separator: " ").compactMap { Double($0) } } ?? []
            #expect(ms.count == 4 && ms.allSatisfy { $0 >= 0 }, "\(line ?? "")")
            #expect(ms.reduce(0, +) <= rows[i].seconds * 1000 + 1, "\(line ?? "") against \(rows[i].seconds) s")
        }
    }

    @Test func imageToVideoEncodesTheClipAndSwitchesExpertsAtTheBoundary() throws {
        let r = try CLI.run(["bench", "pipeline", "--preset", "wan2.2-a14b-i2v-720p", "--tiny-widths", "--layers", "2",
                             "--frames", "9", "--size", "64x48", "--attention_type", "sla", "--sla_topk", "0.5", "--device", "cpu"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = stages(r.stdout)
        #expect(rows.map(\.name) == ["umt5_encode", "vae_encode", "dit_step_1_high", "dit_step_2_high", "dit_step_3_low",
                                     "dit_step_4_low", "vae_decode", "mp4_write", "total"])
        guard rows.count == 9 else { return }
        #expect(close(rows[1].tflop, tinyVAE.encodeFLOPs(videoFrames: 9, height: 48, width: 64)))
        let sla = tinyDiT(inChannels: 36).forwardFLOPs(tokens: 36, attention: .sla(topk: 0.5))
        let dense = tinyDiT(inChannels: 36).forwardFLOPs(tokens: 36, attention: .original)
        #expect(sla.total != dense.total)
        for i in 2...5 { #expect(close(rows[i].tflop, sla)) }
    }
}
