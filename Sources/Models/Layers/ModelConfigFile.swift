import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport

/// A model's `config.json`. The weights are the truth: a loader takes from this file only what
/// tensor shapes cannot tell (head count, text length, eps, latent statistics) and checks every
/// value the shapes do determine against them (`check`), so a file that contradicts its weights
/// is an error naming both values. Keys a loader does not know are ignored, as upstream's
/// config classes ignore them.
public struct ModelConfigFile: Sendable {
    /// The file, for messages.
    public let path: String
    let members: [(key: String, value: JSONValue)]

    /// `member`: the config is that object inside the file's top-level object (a file describing
    /// several models, such as models/demo/demo.json); `path` then names it for messages.
    public init(data: Data, path: String, member: String? = nil) throws {
        self.path = path
        var root: JSONValue
        do {
            root = try data.withUnsafeBytes { try JSONValue.parse($0) }
        } catch let e as CheckpointError {
            throw ModelLoadError.invalidConfig("not valid JSON (\(e.message))", source: path)
        }
        if let member {
            guard let inner = root[member] else { throw ModelLoadError.invalidConfig("no \"\(member)\" object", source: path) }
            root = inner
        }
        guard case .object(let members) = root else {
            throw ModelLoadError.invalidConfig("expected a JSON object, found \(root.typeName)", source: path)
        }
        self.members = members
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelLoadError.invalidConfig("cannot be read", source: path)
        }
        try self.init(data: data, path: path)
    }

    /// `config.json` inside `weights` when that is a directory (a sharded or diffusers-style
    /// model folder), else beside it when `besideFiles`; nil when there is none.
    public static func find(for weights: String, besideFiles: Bool = false) throws -> ModelConfigFile? {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: weights, isDirectory: &isDirectory) else { return nil }
        guard isDirectory || besideFiles else { return nil }
        let dir = isDirectory ? weights : Path.directory(of: weights)
        let file = Path.join((dir.isEmpty ? "." : dir), "config.json")
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try ModelConfigFile(path: file)
    }

    public var keys: [String] { members.map(\.key) }

    /// The value of `key`; a JSON null counts as absent (diffusers writes null for unset options).
    func value(_ key: String) -> JSONValue? {
        guard let v = members.last(where: { $0.key == key })?.value, v != .null else { return nil }
        return v
    }

    func wrongType(_ key: String, _ v: JSONValue, _ expected: String) -> ModelLoadError {
        .invalidConfig("'\(key)' must be \(expected), found \(v.typeName)", source: path)
    }

    public func integer(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: throw wrongType(key, v, "an integer")
        }
    }

    public func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw wrongType(key, v, "a number")
        }
    }

    public func integers(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw wrongType(key, v, "an array of integers") }
        return try items.map {
            guard case .int(let i) = $0 else { throw wrongType(key, v, "an array of integers") }
            return i
        }
    }

    public func numbers(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw wrongType(key, v, "an array of numbers") }
        return try items.map {
            switch $0 {
            case .int(let i): return Double(i)
            case .double(let d): return d
            default: throw wrongType(key, v, "an array of numbers")
            }
        }
    }

    public func booleans(_ key: String) throws -> [Bool]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw wrongType(key, v, "an array of booleans") }
        return try items.map {
            guard case .bool(let b) = $0 else { throw wrongType(key, v, "an array of booleans") }
            return b
        }
    }

    /// Throws when the file states `key` with another value than the weights' `actual`;
    /// `evidence` says which tensor shows it ("text_embedding.0.weight [1536, 4096]").
    public func check(_ key: String, _ actual: Int, evidence: String) throws {
        guard let stated = try integer(key), stated != actual else { return }
        throw contradiction(key, "\(stated)", "\(actual)", evidence)
    }

    public func check(_ key: String, _ actual: [Int], evidence: String) throws {
        guard let stated = try integers(key), stated != actual else { return }
        throw contradiction(key, "\(stated)", "\(actual)", evidence)
    }

    public func check(_ key: String, _ actual: [Bool], evidence: String) throws {
        guard let stated = try booleans(key), stated != actual else { return }
        throw contradiction(key, "\(stated)", "\(actual)", evidence)
    }

    func contradiction(_ key: String, _ stated: String, _ actual: String, _ evidence: String) -> ModelLoadError {
        .invalidConfig("'\(key)' is \(stated) but the weights have \(actual) (\(evidence)); the weights decide the architecture: fix or remove the key", source: path)
    }
}
