import Foundation
import Testing

/// `turbodiffusion models`: installed files with their state, and the planner's fit table.
@Suite struct ModelsCommandTests {
    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../models/demo").standardized

    @Test func reportsWholeBrokenAndMissingFilesAndWhatFits() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("td-models-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.demo.appendingPathComponent("vae.pth"), to: dir.appendingPathComponent("Wan2.1_VAE.pth"))
        // A cut-off download under a DiT's name, and a VAE under a DiT's name.
        let dit = try Data(contentsOf: Self.demo.appendingPathComponent("dit_t2v.pth"))
        try dit.prefix(1000).write(to: dir.appendingPathComponent("TurboWan2.1-T2V-1.3B-480P.pth"))
        try FileManager.default.copyItem(at: Self.demo.appendingPathComponent("vae.pth"),
                                         to: dir.appendingPathComponent("TurboWan2.1-T2V-14B-480P.pth"))

        let r = try CLI.run(["models", "--dir", dir.path, "--max_vram", "24"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func line(_ file: String) -> String { lines.first { $0.contains(file + " ") } ?? "" }
        #expect(line("Wan2.1_VAE.pth").contains("ok") && line("Wan2.1_VAE.pth").contains("VAE"))
        #expect(line("TurboWan2.1-T2V-1.3B-480P.pth").contains("BROKEN") && line("TurboWan2.1-T2V-1.3B-480P.pth").contains("truncated"))
        #expect(line("TurboWan2.1-T2V-14B-480P.pth").contains("BROKEN") && line("TurboWan2.1-T2V-14B-480P.pth").contains("VAE"))
        #expect(line("models_t5_umt5-xxl-enc-bf16.pth").contains("missing"))
        // Under 24 GiB the bf16 14B is streamed, the W8A8 14B at 480p stays resident.
        let fit = lines.first { $0.contains("Wan2.1-14B") && $0.contains("GiB") } ?? ""
        #expect(fit.contains("streamed") && fit.contains("resident"), "\(r.stdout)")
        #expect(r.stdout.contains("--max_vram 24"))

        let bad = try CLI.run(["models", "--max_vram", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--max_vram"))
    }
}
