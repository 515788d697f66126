import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Fixtures written by scripts/reference/make_checkpoint_fixtures.py.
enum Fixtures {
    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    struct Tensor: Sendable {
        let name: String
        let dtype: String
        let shape: [Int]
        let strides: [Int]?
        let storageOffset: Int?
        /// Float dtypes: every value as Double (exact: the fixtures hold representable values).
        let floats: [Double]
        /// Integer dtypes: exact values.
        let ints: [Int]
    }

    /// expected.json: fixture name → tensors in the order the reader must return them.
    static let expected: [(fixture: String, tensors: [Tensor])] = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("expected.json")),
              let json = try? data.withUnsafeBytes({ try JSONValue.parse($0) }),
              case .object(let fixtures) = json else { return [] }
        return fixtures.map { fixture, value in
            guard case .array(let list)? = value["tensors"] else { return (fixture, []) }
            return (fixture, list.map(parseTensor))
        }
    }()

    static func expectedTensors(_ fixture: String) -> [Tensor] {
        expected.first { $0.fixture == fixture }?.tensors ?? []
    }

    private static func parseTensor(_ v: JSONValue) -> Tensor {
        func ints(_ key: String) -> [Int]? {
            guard case .array(let a)? = v[key] else { return nil }
            return a.compactMap { if case .int(let n) = $0 { n } else { nil } }
        }
        var floats: [Double] = [], integers: [Int] = []
        if case .array(let values)? = v["values"] {
            for x in values {
                switch x {
                case .int(let n): integers.append(n); floats.append(Double(n))
                case .double(let d): floats.append(d)
                default: break
                }
            }
        }
        var offset: Int?
        if case .int(let o)? = v["storage_offset"] { offset = o }
        guard case .string(let name)? = v["name"], case .string(let dtype)? = v["dtype"] else {
            return Tensor(name: "?", dtype: "?", shape: [], strides: nil, storageOffset: nil, floats: [], ints: [])
        }
        return Tensor(name: name, dtype: dtype, shape: ints("shape") ?? [], strides: ints("strides"),
                      storageOffset: offset, floats: floats, ints: integers)
    }

    /// A fresh empty directory, in memory-backed /dev/shm when there is one (the fuzz tests
    /// write thousands of small files; on a busy disk that alone took seconds).
    static func temporaryDirectory() throws -> URL {
        let shm = URL(fileURLWithPath: "/dev/shm")
        let base = FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
        let url = base.appendingPathComponent("ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Checks one loaded tensor against its expected.json description, exactly.
func expectMatches(_ actual: NamedTensor, _ e: Fixtures.Tensor, fixture: String) throws {
    let t = actual.tensor
    #expect(actual.name == e.name, "\(fixture)")
    #expect(t.dtype.rawValue == e.dtype, "\(fixture) \(e.name)")
    #expect(t.shape == e.shape, "\(fixture) \(e.name)")
    if let s = e.strides { #expect(t.strides == s, "\(fixture) \(e.name) strides") }
    if let o = e.storageOffset { #expect(t.offset == o, "\(fixture) \(e.name) storage offset") }
    if t.dtype.isFloatingPoint {
        let values = try t.floats()
        #expect(values.count == e.floats.count, "\(fixture) \(e.name) count")
        for (a, b) in zip(values, e.floats) {
            let expected = Float(b)  // exact: every expected value is representable in Float
            let same = a.isNaN ? expected.isNaN : a.bitPattern == expected.bitPattern
            #expect(same, "\(fixture) \(e.name): \(a) != \(expected)")
        }
    } else {
        let values = try t.int64s()
        #expect(values == e.ints.map(Int64.init), "\(fixture) \(e.name)")
    }
}

/// Fuzz tests are reproducible: they draw from the engine's Philox generator.
typealias SplitMix64 = PhiloxGenerator

/// Writes `bytes` to a temporary file and returns its path.
func writeTemporary(_ bytes: [UInt8], name: String, in dir: URL) throws -> String {
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// Opens `path` expecting a `CheckpointError`; returns it (or records an issue).
@discardableResult
func expectCheckpointError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    do {
        let c = try Checkpoint.open(path: path)
        Issue.record("\(path) opened with \(c.tensors.count) tensors; an error was expected", sourceLocation: sourceLocation)
        return nil
    } catch let e as CheckpointError {
        return e
    } catch {
        Issue.record("\(path): unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
