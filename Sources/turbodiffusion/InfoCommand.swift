import ArgumentParser
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// `turbodiffusion info FILE...`: what a checkpoint holds, without loading any values.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe checkpoints: format, model kind, tensors, parameter count and size.",
        discussion: """
            Accepts torch.save archives (.pth/.pt), safetensors files, sharded safetensors \
            index files (*.index.json) and directories of safetensors files. The format is \
            recognised from the content, not from the file name. Nothing is executed: pickles \
            are read with an allowlist of the globals a state dict uses.
            """
    )

    @Argument(help: "Checkpoint files, index files or directories.")
    var files: [String]

    @Option(help: "Show at most this many tensors per checkpoint.")
    var limit: Int = 40

    @Flag(help: "Show every tensor (overrides --limit).")
    var all = false

    @Option(help: "Only list tensors whose name contains this text.")
    var filter: String?

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be zero or more") }
    }

    func run() throws {
        var failures = 0
        for (i, path) in files.enumerated() {
            do {
                let checkpoint = try Checkpoint.open(path: path)
                var text = i > 0 ? "\n" : ""
                describe(checkpoint, into: &text)
                StandardStreams.writeOutput(text)
            } catch {
                failures += 1
                StandardStreams.writeError("error: \(error)\n")
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func describe(_ c: Checkpoint, into out: inout String) {
        func print(_ line: String) { out += line + "\n" }
        func row(_ label: String, _ text: String) { print("  " + pad(label, 9) + " " + text) }
        print(c.path)
        var onDisk = "\(c.format); \(Self.formatBytes(c.fileBytes)) on disk"
        if c.files.count > 1 { onDisk += " in \(c.files.count) files" }
        row("format", onDisk)
        row("model", c.recognition.summary)
        row("tensors", "\(c.tensors.count), \(Self.grouped(c.parameterCount)) parameters, \(Self.formatBytes(c.tensorBytes)) of tensor data")
        var byType: [DType: (count: Int, bytes: Int)] = [:]
        for t in c.tensors {
            byType[t.tensor.dtype, default: (0, 0)].count += 1
            byType[t.tensor.dtype, default: (0, 0)].bytes += t.tensor.byteCount
        }
        let dtypes = DType.allCases.compactMap { d in byType[d].map { "\(d) ×\($0.count) (\(Self.formatBytes($0.bytes)))" } }
        if !dtypes.isEmpty { row("dtypes", dtypes.joined(separator: ", ")) }
        for note in c.notes { row("note", note) }
        for m in c.metadata.prefix(8) { row("metadata", "\(m.key) = \(m.value.count > 80 ? String(m.value.prefix(80)) + "…" : m.value)") }

        let selected = filter.map { f in c.tensors.filter { $0.name.contains(f) } } ?? c.tensors
        let shown = all ? selected[...] : selected.prefix(limit)
        guard !shown.isEmpty else {
            if filter != nil { print("  no tensor name contains '\(filter!)'") }
            return
        }
        let nameWidth = max(4, min(72, shown.map(\.name.count).max() ?? 4))
        print("")
        print("  " + pad("name", nameWidth) + "  " + pad("dtype", 7) + "  shape")
        for t in shown {
            print("  " + pad(t.name, nameWidth) + "  " + pad(t.tensor.dtype.description, 7) + "  " + "\(t.tensor.shape)")
        }
        if shown.count < selected.count {
            let more = selected.count - shown.count
            print("  … \(more) more tensor\(more == 1 ? "" : "s") (--all shows every tensor, --limit N shows N)")
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

extension InfoCommand {
    /// 1234567 → "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Decimal units, with exact bytes below 1 kB.
    static func formatBytes(_ n: Int) -> String {
        if n < 1000 { return "\(n) B" }
        let units = ["kB", "MB", "GB", "TB"]
        var v = Double(n) / 1000
        var u = 0
        while v >= 1000, u < units.count - 1 {
            v /= 1000
            u += 1
        }
        return String(printf: v < 10 ? "%.2f" : "%.1f", v) + " " + units[u]
    }
}
