import Foundation
import Testing

/// Runs the built `turbodiffusion` executable (it sits next to the test bundle in .build/<config>/).
enum CLI {
    static let binary: URL? = {
        var starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()]
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var dir = start
            for _ in 0 ..< 4 {  // macOS: X.xctest/Contents/MacOS; Linux: the directory itself
                let candidate = dir.appendingPathComponent("turbodiffusion")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   FileManager.default.isExecutableFile(atPath: candidate.path) {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("CheckpointsTests/Fixtures")

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// `stdin` as text, or `stdinBytes` as given (invalid UTF-8 included).
    /// `executable` runs instead of the program (e.g. a shell that sets limits before exec'ing it).
    static func run(_ arguments: [String], stdin: String? = nil, stdinBytes: Data? = nil, directory: URL? = nil,
                    executable: String? = nil) throws -> Result {
        let binary = try #require(binary, "the turbodiffusion executable was not found next to the test bundle; build it first")
        let p = Process()
        p.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? binary
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let directory { p.currentDirectoryURL = directory }
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        if let stdinBytes { input.fileHandleForWriting.write(stdinBytes) }
        try input.fileHandleForWriting.close()
        // Read before waiting so a full pipe cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
}

@Suite struct InfoCommandTests {
    @Test func describesATorchArchive() throws {
        let r = try CLI.run(["info", CLI.fixture("kind_turbo_dit_int8.pth")])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
        #expect(r.stdout.contains("PyTorch zip archive (torch.save)"))
        #expect(r.stdout.contains("TurboDiffusion DiT, int8 block-quantized (10 linears): dim 8, 2 layers, 36 input channels"))
        #expect(r.stdout.contains("tensors   28, 35,458 parameters"))
        // Table rows: name, dtype, shape.
        #expect(r.stdout.range(of: #"net\.patch_embedding\.weight +bf16 +\[8, 144\]"#, options: .regularExpression) != nil)
        #expect(!r.stdout.contains("more tensor"))  // 28 tensors, default --limit 40
    }

    @Test func limitAllAndFilter() throws {
        let limited = try CLI.run(["info", "--limit", "2", CLI.fixture("all_dtypes.safetensors")])
        #expect(limited.status == 0)
        #expect(limited.stdout.contains("… 8 more tensors"))
        let all = try CLI.run(["info", "--all", "--limit", "2", CLI.fixture("all_dtypes.safetensors")])
        #expect(!all.stdout.contains("more tensor"))
        #expect(all.stdout.range(of: #"t_fp8 +fp8e4m3 +\[5\]"#, options: .regularExpression) != nil)
        let filtered = try CLI.run(["info", "--filter", "ffn", CLI.fixture("kind_umt5.pth")])
        let rows = filtered.stdout.split(separator: "\n").filter { $0.hasPrefix("  blocks.") }
        #expect(rows.count == 6 && rows.allSatisfy { $0.contains("ffn") })
    }

    @Test func maliciousFileIsRefusedOnOneLine() throws {
        let r = try CLI.run(["info", CLI.fixture("malicious.pth")])
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(r.stderr.hasPrefix("error: \(CLI.fixture("malicious.pth")): refusing to load: the pickle asks for global 'posix.system'"))
    }

    @Test func truncatedFileFailsClearly() throws {
        let r = try CLI.run(["info", CLI.fixture("truncated.pth")])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("truncated"))
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"))
    }

    @Test func goodAndBadFilesTogether() throws {
        let r = try CLI.run(["info", CLI.fixture("views.pth"), CLI.fixture("not_a_checkpoint.png"), CLI.fixture("sharded")])
        #expect(r.status == 1)
        #expect(r.stdout.contains("views.pth") && r.stdout.contains("sharded safetensors (index.json)"))
        #expect(r.stderr.contains("looks like PNG image"))
    }

    @Test func missingArgumentIsAUsageError() throws {
        let r = try CLI.run(["info"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("Usage") || r.stderr.contains("Missing"))
    }
}
