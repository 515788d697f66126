import Foundation
import Testing

/// `turbodiffusion download` end to end: the built executable against FakeHub, in a temporary
/// working directory so the default `checkpoints/` layout is checked as the generation commands read it.
@Suite struct DownloadCommandTests {
    static let binary: URL? = {
        var starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()]
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var dir = start
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent("turbodiffusion")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    /// Repository, file, whether LFS: every file of the released models, with small contents.
    static let published: [(String, String, Bool)] = {
        var list = [("Wan-AI/Wan2.1-T2V-1.3B", "models_t5_umt5-xxl-enc-bf16.pth", true), ("Wan-AI/Wan2.1-T2V-1.3B", "Wan2.1_VAE.pth", true),
                    ("google/umt5-xxl", "tokenizer.json", true), ("google/umt5-xxl", "spiece.model", true),
                    ("google/umt5-xxl", "tokenizer_config.json", false), ("google/umt5-xxl", "special_tokens_map.json", false)]
        for q in ["", "-quant"] {
            for name in ["TurboWan2.1-T2V-1.3B-480P", "TurboWan2.1-T2V-14B-480P", "TurboWan2.1-T2V-14B-720P"] {
                list.append(("TurboDiffusion/\(name)", "\(name)\(q).pth", true))
            }
            for noise in ["high", "low"] {
                list.append(("TurboDiffusion/TurboWan2.2-I2V-A14B-720P", "TurboWan2.2-I2V-A14B-\(noise)-720P\(q).pth", true))
            }
        }
        return list
    }()

    struct Run {
        let status: Int32
        let stderr: String
    }

    final class Workspace {
        let hub: FakeHub
        let dir: URL
        init() throws {
            hub = try FakeHub()
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("td-download-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (i, (repo, name, lfs)) in DownloadCommandTests.published.enumerated() {
                hub.add(repo: repo, path: name, content: (0..<(20_000 + i * 97)).map { UInt8(truncatingIfNeeded: $0 &* (i + 3)) }, lfs: lfs)
            }
        }
        deinit { hub.stop(); try? FileManager.default.removeItem(at: dir) }

        func content(_ name: String) -> [UInt8]? {
            FileManager.default.contents(atPath: dir.appendingPathComponent(name).path).map { [UInt8]($0) }
        }

        /// Starts the command; `environment` adds to a clean one (no HF_* or proxy variables).
        func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, URL) {
            let binary = try #require(DownloadCommandTests.binary, "the turbodiffusion executable was not found next to the test bundle; build it first")
            let p = Process()
            p.executableURL = binary
            p.arguments = ["download"] + arguments + ["--endpoint", hub.endpoint]
            p.currentDirectoryURL = dir
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HF_") && !$0.key.lowercased().hasSuffix("_proxy") }
            env.merge(environment) { $1 }
            p.environment = env
            let log = dir.appendingPathComponent("stderr-\(UUID().uuidString).txt")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: log)
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            return (p, log)
        }

        func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
            let (p, log) = try start(arguments, environment: environment)
            p.waitUntilExit()
            return Run(status: p.terminationStatus, stderr: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }
    }

    static let wan13Files = ["checkpoints/models_t5_umt5-xxl-enc-bf16.pth", "checkpoints/Wan2.1_VAE.pth",
                             "checkpoints/TurboWan2.1-T2V-1.3B-480P.pth", "checkpoints/umt5-xxl/tokenizer.json",
                             "checkpoints/umt5-xxl/spiece.model", "checkpoints/umt5-xxl/tokenizer_config.json",
                             "checkpoints/umt5-xxl/special_tokens_map.json"]

    @Test func fetchesAModelIntoTheDefaultLayoutThenSkipsIt() throws {
        let w = try Workspace()
        let first = try w.run(["Wan2.1-1.3B"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("done: 7 downloaded"))
        for (i, (repo, name, _)) in Self.published.enumerated() where repo != "TurboDiffusion/TurboWan2.1-T2V-14B-480P" {
            guard let local = Self.wan13Files.first(where: { $0.hasSuffix("/" + name) }) else { continue }
            #expect(w.content(local)?.count == 20_000 + i * 97, "\(local)")
        }
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: w.dir.appendingPathComponent("checkpoints").path)
        #expect(!leftovers.contains { $0.hasSuffix(".incomplete") })
        let again = try w.run(["Wan2.1-1.3B"])
        #expect(again.status == 0 && again.stderr.contains("0 downloaded") && again.stderr.contains("7 already there"), "\(again.stderr)")
    }

    @Test func quantizedAnd720pCheckpointsGoWhereT2VAndI2VLook() throws {
        let w = try Workspace()
        let r = try w.run(["Wan2.1-14B", "Wan2.2-A14B", "--quant", "--resolution", "720p", "--dir", "ck"])
        #expect(r.status == 0, "\(r.stderr)")
        for name in ["TurboWan2.1-T2V-14B-720P-quant.pth", "TurboWan2.2-I2V-A14B-high-720P-quant.pth",
                     "TurboWan2.2-I2V-A14B-low-720P-quant.pth", "Wan2.1_VAE.pth", "umt5-xxl/tokenizer.json"] {
            #expect(w.content("ck/" + name) != nil, "\(name)")
        }
        #expect(w.content("ck/TurboWan2.1-T2V-14B-480P-quant.pth") == nil)
        let bad = try w.run(["Wan2.1-1.3B", "--resolution", "720p"])
        #expect(bad.status != 0 && bad.stderr.contains("no 720p checkpoint"), "\(bad.stderr)")
        let unknown = try w.run(["Wan2.5"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown model 'Wan2.5'"))
    }

    @Test func gatedRepositorySaysToSetHFToken() throws {
        let w = try Workspace()
        w.hub.inject(.status(401), repo: "Wan-AI/Wan2.1-T2V-1.3B", path: "models_t5_umt5-xxl-enc-bf16.pth", at: .head)
        let r = try w.run([])
        #expect(r.status == 1 && r.stderr.contains("HF_TOKEN"), "\(r.stderr)")
        #expect(w.content("checkpoints/models_t5_umt5-xxl-enc-bf16.pth") == nil)
    }

    @Test func offlineNeedsTheFilesPresent() throws {
        let w = try Workspace()
        let r = try w.run(["Wan2.1-1.3B"], environment: ["HF_HUB_OFFLINE": "1"])
        #expect(r.status == 1 && r.stderr.contains("HF_HUB_OFFLINE") && r.stderr.contains("checkpoints/Wan2.1_VAE.pth"), "\(r.stderr)")
        #expect(w.hub.requests.isEmpty)
    }

    @Test func ctrlCLeavesOnlyAResumablePartialFile() throws {
        let w = try Workspace()
        let name = "models_t5_umt5-xxl-enc-bf16.pth"
        w.hub.inject(.stall(after: 5_000), repo: "Wan-AI/Wan2.1-T2V-1.3B", path: name)
        let (p, log) = try w.start([])
        let partial = w.dir.appendingPathComponent("checkpoints/\(name).incomplete").path
        var waited = 0
        while (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) != 5_000 && waited < 1000 {
            usleep(10_000)
            waited += 1
        }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        let err = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 130, "\(err)")
        #expect(err.contains("interrupted") && err.contains(".incomplete"), "\(err)")
        #expect(w.content("checkpoints/\(name)") == nil)
        #expect(w.content("checkpoints/\(name).incomplete")?.count == 5_000)
        // The next run resumes where it stopped.
        let r = try w.run([])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("resuming at 5.0 kB"), "\(r.stderr)")
        #expect(w.hub.requests.contains { $0.isCDN && $0.range == "bytes=5000-" })
        #expect(w.content("checkpoints/\(name)")?.count == 20_000)
    }
}
