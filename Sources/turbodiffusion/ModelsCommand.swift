import ArgumentParser
import BackendCUDA
import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Models
import Pipeline
import TensorCore
import Tokenizer

/// `turbodiffusion models`: which released checkpoints are in the checkpoint folder and whole, and
/// which resolutions and quantisations fit this machine's GPU by the memory planner's numbers.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the installed models, whether their files are whole, and what fits this GPU.")

    @Option(help: "Folder holding the checkpoints (the generation commands' defaults live in checkpoints/).")
    var dir = "checkpoints"

    @Option(name: [.customLong("max_vram"), .customLong("max-vram")],
            help: "Plan for this many GiB of device memory instead of the GPU's free memory.")
    var maxVram: Double?

    @Option(name: [.customLong("attention_type"), .customLong("attention-type")],
            help: "Self-attention the plan assumes: original, sla or sagesla (the generation default).")
    var attentionType = "sagesla"

    func validate() throws {
        if let maxVram, !(maxVram > 0) { throw ValidationError("--max_vram must be a positive number of GiB, got \(maxVram)") }
        guard SelfAttentionKind(name: attentionType, topk: 0.1) != nil else {
            throw ValidationError("--attention_type must be one of \(SelfAttentionKind.names.joined(separator: ", ")), got '\(attentionType)'")
        }
    }

    func run() throws {
        let entries = InstalledModels.entries(in: dir)
        print("checkpoints in \(dir)/")
        for e in entries {
            let state = e.state.description
            print("  \(e.model.padded(to: 13)) \(e.file.padded(to: 42)) \(state)")
        }
        let budget = try Self.budget(maxVram: maxVram)
        print("")
        let heading = budget.map { "fit by the memory planner (\($0.source): \(String(printf: "%.1f GiB", Double($0.bytes) / 1_073_741_824)); " }
            ?? "predicted peaks by the memory planner (no usable CUDA device: generation runs on the CPU; "
        print(heading + "\(attentionType), 81 frames, 4 steps):")
        let attention = SelfAttentionKind(name: attentionType, topk: 0.1)!
        for row in InstalledModels.fitTable(attention: attention, budget: budget) { print("  " + row) }
    }

    /// --max_vram, else the free memory of the first CUDA device, else nil (CPU only).
    static func budget(maxVram: Double?) throws -> MemoryBudget? {
        if let maxVram { return MemoryBudget(bytes: Int(maxVram * 1_073_741_824), source: String(printf: "--max_vram %g", maxVram)) }
        guard CUDABackend.isAvailable, let cuda = try? CUDABackend() else { return nil }
        return MemoryBudget(bytes: try cuda.deviceMemory().free, source: "free on \(cuda.device)")
    }
}

/// The released files the generation commands look for, and how to read their state.
enum InstalledModels {
    enum State: CustomStringConvertible {
        case missing
        /// Opens and parses (header or zip directory, tensor table) and holds the expected kind.
        case complete(bytes: Int, summary: String)
        /// Present but unreadable or not the expected kind: the reason.
        case broken(String)

        var description: String {
            switch self {
            case .missing: "missing"
            case let .complete(bytes, summary): String(printf: "ok, %.2f GB, %@", Double(bytes) / 1e9, summary)
            case let .broken(why): "BROKEN: \(why)"
            }
        }
    }

    struct Entry {
        let model: String
        let file: String
        let state: State
    }

    /// (model column, file name, expected kinds); "" model: shared by every model.
    static let files: [(model: String, file: String, kinds: Set<ModelKind>)] = {
        let dit: Set<ModelKind> = [.wanDiT, .turboDiT]
        var list: [(String, String, Set<ModelKind>)] = [
            ("shared", URL(fileURLWithPath: ModelCatalog.vaeDefault).lastPathComponent, [.wanVAE]),
            ("shared", URL(fileURLWithPath: ModelCatalog.textEncoderDefault).lastPathComponent, [.umt5Encoder]),
        ]
        for quant in [false, true] {
            for m in ModelCatalog.DownloadModel.allCases {
                for r in m.resolutions {
                    for path in m.ditPaths(quantized: quant, resolution: r) {
                        list.append((m.rawValue, URL(fileURLWithPath: path).lastPathComponent, dit))
                    }
                }
            }
        }
        return list
    }()

    static func entries(in dir: String) -> [Entry] {
        var out = files.map { f in Entry(model: f.model, file: f.file, state: state(of: "\(dir)/\(f.file)", kinds: f.kinds)) }
        let tokenizer = "\(dir)/\(URL(fileURLWithPath: ModelCatalog.tokenizerDefault).lastPathComponent)"
        let tokenizerState: State = (try? TokenizerLocation.resolve(tokenizer)).map { .complete(bytes: folderBytes($0), summary: "umT5 tokenizer") }
            ?? (FileManager.default.fileExists(atPath: tokenizer) ? .broken("no tokenizer file found in the folder") : .missing)
        out.insert(Entry(model: "shared", file: URL(fileURLWithPath: tokenizer).lastPathComponent + "/", state: tokenizerState), at: 2)
        return out
    }

    static func state(of path: String, kinds: Set<ModelKind>) -> State {
        guard FileManager.default.fileExists(atPath: path) else { return .missing }
        do {
            let ckpt = try Checkpoint.open(path: path)
            guard kinds.contains(ckpt.recognition.kind) else {
                return .broken("holds \(ckpt.recognition.kind) (\(ckpt.recognition.summary))")
            }
            let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
            return .complete(bytes: bytes, summary: ckpt.recognition.summary)
        } catch {
            return .broken("\(error)")
        }
    }

    static func folderBytes(_ path: String) -> Int {
        var isDir = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return 0 }
        if !isDir { return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.reduce(0) { $0 + folderBytes("\(path)/\($1)") }
    }

    /// One line per model: for 480p/720p, bf16 and W8A8, the planned placement of the DiT and the
    /// predicted peak (or "does not fit") under `budget`; without a budget, the resident peaks.
    static func fitTable(attention: SelfAttentionKind, budget: MemoryBudget?) -> [String] {
        let columns: [(String, Resolution, Bool)] = [("480p", .p480, false), ("480p W8A8", .p480, true),
                       ("720p", .p720, false), ("720p W8A8", .p720, true)]
        let models: [(String, WanDiTConfig, Int)] = [("Wan2.1-1.3B", .wan21T2V1_3B, 1), ("Wan2.1-14B", .wan21T2V14B, 1),
                                                     ("Wan2.2-A14B", .wan22I2VA14B, 2)]
        func cell(_ s: String) -> String { s.padded(to: 24) }
        var rows = [cell("model") + columns.map { cell($0.0) }.joined()]
        let unlimited = MemoryBudget(bytes: Int.max / 4, source: "no limit")
        for (name, config, experts) in models {
            var line = cell(name)
            for (_, resolution, quantized) in columns {
                var request = GenerationRequest(prompt: "")
                request.size = VideoGeometry.size(resolution, .wide)
                if experts == 2 {
                    request.image = [UInt8](repeating: 0, count: 3 * 16 * 16)
                    request.imageSize = VideoSize(width: 16, height: 16)
                }
                let input = MemoryPlanInput(dit: config, quantized: quantized, computeType: .bf16, attention: attention, experts: experts)
                do {
                    let plan = try MemoryPlanner.plan(input, request: request, budget: budget ?? unlimited)
                    let residency = plan.dit == .streamed ? "streamed" : "resident"
                    line += cell(String(printf: "%.1f GiB %@", Double(plan.peak) / 1_073_741_824, residency))
                } catch {
                    line += cell("does not fit")
                }
            }
            rows.append(line)
        }
        return rows
    }
}
