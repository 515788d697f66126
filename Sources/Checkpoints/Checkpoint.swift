#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import TensorCore

/// A tensor with its checkpoint key.
public struct NamedTensor: Sendable {
    public let name: String
    public let tensor: Tensor

    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }

    /// The tensors with `prefix` (e.g. "model.") removed from every name that starts with it.
    public static func stripping(_ prefix: String, from tensors: [NamedTensor]) -> [NamedTensor] {
        guard !prefix.isEmpty else { return tensors }
        return tensors.map { $0.name.hasPrefix(prefix) ? NamedTensor(name: String($0.name.dropFirst(prefix.count)), tensor: $0.tensor) : $0 }
    }
}

extension Checkpoint {
    /// The tensors under their model keys: the recognised key prefix (e.g. "net.") removed.
    public var unprefixedTensors: [NamedTensor] { NamedTensor.stripping(recognition.keyPrefix, from: tensors) }
}

/// How a checkpoint was stored.
public enum CheckpointFormat: String, Sendable, CustomStringConvertible {
    /// A `torch.save` zip archive (`.pth`, `.pt`, `.bin`...).
    case pytorch
    case safetensors
    /// `*.safetensors.index.json` with a `weight_map` naming the shard of every tensor.
    case shardedSafetensors
    /// A directory of `.safetensors` files without an index.
    case safetensorsDirectory

    public var description: String {
        switch self {
        case .pytorch: "PyTorch zip archive (torch.save)"
        case .safetensors: "safetensors"
        case .shardedSafetensors: "sharded safetensors (index.json)"
        case .safetensorsDirectory: "directory of safetensors files"
        }
    }
}

/// The tensors of a checkpoint, in file order, as host tensors that view the memory-mapped
/// file(s) without copying. Tensors keep their mappings alive; the `Checkpoint` value itself
/// may be dropped once the tensors were taken.
public struct Checkpoint: Sendable {
    /// What was opened (file, index or directory).
    public let path: String
    public let format: CheckpointFormat
    public let tensors: [NamedTensor]
    /// Every file that was read (shards included).
    public let files: [String]
    /// Total size of those files on disk.
    public let fileBytes: Int
    /// safetensors `__metadata__` (of every shard, in order; sharded index metadata is not included).
    public let metadata: [(key: String, value: String)]
    /// Remarks worth showing a user: flattened nested dicts, skipped entries, device tags.
    public let notes: [String]
    private let index: [String: Int]

    init(path: String, format: CheckpointFormat, tensors: [NamedTensor], files: [String], fileBytes: Int,
         metadata: [(key: String, value: String)] = [], notes: [String] = []) throws {
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() {
            guard index.updateValue(i, forKey: t.name) == nil else {
                throw CheckpointError(.inconsistent, path: path, "tensor '\(t.name)' appears twice")
            }
        }
        self.path = path
        self.format = format
        self.tensors = tensors
        self.files = files
        self.fileBytes = fileBytes
        self.metadata = metadata
        self.notes = notes
        self.index = index
    }

    // MARK: Access

    public var names: [String] { tensors.map(\.name) }

    public subscript(name: String) -> Tensor? { index[name].map { tensors[$0].tensor } }

    /// The tensor called `name`, or an error that names it and the checkpoint.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = self[name] else {
            throw CheckpointError(.inconsistent, path: path, "no tensor named '\(name)' (the checkpoint has \(tensors.count) tensors)")
        }
        return t
    }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.tensor.count } }

    /// Total bytes of tensor data (views of a shared storage are counted once each).
    public var tensorBytes: Int { tensors.reduce(0) { $0 + $1.tensor.byteCount } }

    /// What model these weights belong to, judged from key names and shapes.
    public var recognition: ModelRecognition { ModelRecognition(tensors.map { ($0.name, $0.tensor.shape, $0.tensor.dtype) }) }

    // MARK: Opening

    /// Opens a checkpoint, deciding the format from the content: a torch.save zip, a
    /// safetensors file, a sharded index (`*.index.json` with `weight_map`), or a directory
    /// holding one index or some safetensors files. Throws `CheckpointError` for anything
    /// else; never traps on malformed input.
    public static func open(path: String) throws -> Checkpoint {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(.io, path: path, "no such file or directory")
        }
        if isDirectory { return try openDirectory(path) }
        let file = try map(path)
        let view = ByteView(bytes: file.bytes, name: basename(path))
        if file.size == 0 {
            throw CheckpointError(.notACheckpoint, path: path, "not a checkpoint: the file is empty (0 bytes)")
        }
        switch ContentSniffer.sniff(view) {
        case .pytorchZip:
            let a = try TorchArchive(file: file)
            var notes = ["archive prefix '\(a.prefix)', \(a.storageCount) storages"]
            notes += a.notes
            return try Checkpoint(path: path, format: .pytorch, tensors: a.tensors, files: [path], fileBytes: file.size, notes: notes)
        case .safetensors:
            let s = try SafetensorsFile(file: file)
            return try Checkpoint(path: path, format: .safetensors, tensors: s.tensors, files: [path], fileBytes: file.size, metadata: s.metadata)
        case .json:
            return try openIndex(path, file: file)
        case .legacyTorch:
            throw CheckpointError(.unsupported, path: path,
                                  "this is torch.save's legacy (pre-1.6) format, which is not supported; re-save it with a current PyTorch: torch.save(torch.load(f), f2)")
        case .barePickle:
            throw CheckpointError(.unsupported, path: path,
                                  "this is a bare Python pickle, not a torch.save zip archive or safetensors file; re-save the state dict with torch.save or safetensors")
        case .foreign(let what):
            throw CheckpointError(.notACheckpoint, path: path, "not a checkpoint: the file starts with bytes \(view.hex(count: 8)) (looks like \(what))")
        case .unknown:
            throw CheckpointError(.notACheckpoint, path: path,
                                  "not a checkpoint: the file starts with bytes \(view.hex(count: 8)), which is neither a torch.save zip archive nor safetensors")
        }
    }

    private static func map(_ path: String) throws -> MappedFile {
        do {
            return try MappedFile(path: path)
        } catch let e as TensorError {
            switch e {
            case .invalidArgument(let m), .outOfMemory(let m), .unsupported(let m), .deviceError(let m), .shapeMismatch(let m):
                throw CheckpointError(.io, path: path, m)
            }
        }
    }

    /// `*.index.json`: `{"metadata": {...}, "weight_map": {"tensor": "shard file", ...}}`.
    private static func openIndex(_ path: String, file: MappedFile) throws -> Checkpoint {
        let json: JSONValue
        do {
            json = try JSONValue.parse(file.bytes)
        } catch let e as CheckpointError {
            throw CheckpointError(.notACheckpoint, path: path, "not a checkpoint: a JSON file that does not parse (\(e.message))")
        }
        guard case .object(let weightMap)? = json["weight_map"] else {
            throw CheckpointError(.notACheckpoint, path: path, "not a checkpoint: a JSON file without a \"weight_map\" (a sharded safetensors index has one)")
        }
        let dir = Path.directory(of: path)
        var shardOrder: [String] = []
        var expected: [String: [String]] = [:]
        for (name, value) in weightMap {
            guard case .string(let shard) = value, !shard.isEmpty, !shard.hasPrefix("/"),
                  !shard.split(separator: "/").contains("..") else {
                throw CheckpointError(.corrupt, path: path, "weight_map entry '\(name)' is not a shard file name inside the index's directory")
            }
            if expected[shard] == nil { shardOrder.append(shard) }
            expected[shard, default: []].append(name)
        }
        var tensors: [NamedTensor] = []
        var owner: [String: String] = [:]
        var files = [path]
        var bytes = file.size
        var metadata: [(key: String, value: String)] = []
        var unlisted = 0
        let mapped = Set(weightMap.map(\.key))
        for shard in shardOrder {
            let shardPath = dir.isEmpty ? shard : dir + "/" + shard
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw CheckpointError(.inconsistent, path: path, "the index names shard '\(shard)', which does not exist")
            }
            let f = try map(shardPath)
            let s = try SafetensorsFile(file: f)
            files.append(shardPath)
            bytes += f.size
            metadata += s.metadata
            for t in s.tensors {
                if let other = owner.updateValue(shard, forKey: t.name) {
                    throw CheckpointError(.inconsistent, path: path, "tensor '\(t.name)' is stored in both '\(other)' and '\(shard)'")
                }
                if !mapped.contains(t.name) { unlisted += 1 }
                tensors.append(t)
            }
            for name in expected[shard] ?? [] where owner[name] != shard {
                throw CheckpointError(.inconsistent, path: path, "the index maps '\(name)' to '\(shard)', which does not contain it")
            }
        }
        let notes = unlisted > 0 ? ["\(unlisted) tensors in the shards are not listed in the index"] : []
        return try Checkpoint(path: path, format: .shardedSafetensors, tensors: tensors, files: files, fileBytes: bytes,
                              metadata: metadata, notes: notes)
    }

    private static func openDirectory(_ path: String) throws -> Checkpoint {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw CheckpointError(.io, path: path, "cannot list the directory: \(error)")
        }
        let join = { (n: String) in path.hasSuffix("/") ? path + n : path + "/" + n }
        let indexes = names.filter { $0.hasSuffix(".index.json") }
        if indexes.count == 1 { return try open(path: join(indexes[0])) }
        if indexes.count > 1 {
            throw CheckpointError(.inconsistent, path: path,
                                  "the directory holds several index files (\(indexes.joined(separator: ", "))); open one of them")
        }
        let shards = names.filter { $0.hasSuffix(".safetensors") }
        guard !shards.isEmpty else {
            let shown = names.prefix(6).joined(separator: ", ")
            throw CheckpointError(.notACheckpoint, path: path,
                                  "not a checkpoint: the directory has no .safetensors files and no index (contains: \(shown.isEmpty ? "nothing" : shown)\(names.count > 6 ? ", …" : ""))")
        }
        var tensors: [NamedTensor] = []
        var owner: [String: String] = [:]
        var files: [String] = []
        var bytes = 0
        var metadata: [(key: String, value: String)] = []
        for shard in shards {
            let f = try map(join(shard))
            let s = try SafetensorsFile(file: f)
            files.append(join(shard))
            bytes += f.size
            metadata += s.metadata
            for t in s.tensors {
                if let other = owner.updateValue(shard, forKey: t.name) {
                    throw CheckpointError(.inconsistent, path: path, "tensor '\(t.name)' is stored in both '\(other)' and '\(shard)'")
                }
                tensors.append(t)
            }
        }
        return try Checkpoint(path: path, format: .safetensorsDirectory, tensors: tensors, files: files, fileBytes: bytes,
                              metadata: metadata)
    }
}
