import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// One crafted file per rule the reference `safetensors` library enforces; each error names the
/// rule and, where there is one, the tensor. Files the library accepts are accepted too.
@Suite struct SafetensorsValidationTests {
    /// A file of `header` (as given, no padding) and `data` bytes; `length` overrides the header length field.
    func file(_ header: [UInt8], data: Int, length: UInt64? = nil, in dir: URL) throws -> String {
        var n = (length ?? UInt64(header.count)).littleEndian
        let prefix = withUnsafeBytes(of: &n) { Array($0) }
        return try writeTemporary(prefix + header + [UInt8](repeating: 7, count: data), name: "t.safetensors", in: dir)
    }

    func file(_ header: String, data: Int, in dir: URL) throws -> String { try file(Array(header.utf8), data: data, in: dir) }

    static func entry(_ name: String, _ dtype: String = "F32", _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
    }

    @Test func everyRuleHasItsError() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let e = Self.entry
        let cases: [(name: String, header: String, data: Int, needles: [String])] = [
            ("header not starting with {", " {" + e("a", "F32", [1], 0, 4) + "}", 4, ["must start with '{'", "0x20"]),
            ("duplicate name", "{" + e("a", "F32", [1], 0, 4) + "," + e("a", "F32", [1], 4, 8) + "}", 8, ["duplicate key 'a'"]),
            ("unknown dtype", "{" + e("a", "F33", [1], 0, 4) + "}", 4, ["tensor 'a'", "unknown dtype \"F33\""]),
            ("known dtype this engine lacks", "{" + e("a", "U16", [2], 0, 4) + "}", 4, ["tensor 'a' is U16"]),
            ("shape bytes ≠ range", "{" + e("a", "F32", [3], 0, 8) + "}", 8, ["tensor 'a'", "span 8 bytes", "needs 12"]),
            ("reversed range", "{" + e("a", "F32", [0], 8, 4) + "}", 8, ["tensor 'a'", "not an ordered range"]),
            ("range past the data", "{" + e("a", "F32", [2], 0, 8) + "}", 4, ["tensor 'a'", "data section holds only 4 bytes"]),
            ("overlap", "{" + e("a", "F32", [2], 0, 8) + "," + e("b", "F32", [1], 4, 8) + "}", 8,
             ["overlapping data", "tensor 'b'", "inside 'a' (0..<8)"]),
            ("gap between tensors", "{" + e("a", "F32", [1], 0, 4) + "," + e("b", "F32", [1], 8, 12) + "}", 12,
             ["gap in the data section", "bytes 4..<8", "tensor 'b' starts at 8", "'a' ends at 4"]),
            ("gap at the start", "{" + e("a", "F32", [1], 4, 8) + "}", 8, ["gap in the data section", "bytes 0..<4", "tensor 'a'"]),
            ("bytes after the last tensor", "{" + e("a", "F32", [1], 0, 4) + "}", 9, ["5 byte(s) at the end", "'a' ends at 4"]),
            ("data but no tensor", "{}", 4, ["4 byte(s) at the end", "names no tensor"]),
            ("metadata not an object", #"{"__metadata__":["x"]}"#, 0, ["__metadata__ is an array"]),
            ("metadata value not a string", #"{"__metadata__":{"format":"pt","n":1}}"#, 0, ["__metadata__ value 'n' is a number"]),
            ("header not UTF-8", "{\"a\u{FFFD}\":1}", 0, ["not valid UTF-8"]),
        ]
        for c in cases {
            var header = Array(c.header.utf8)
            if c.name == "header not UTF-8" { header = Array("{\"a".utf8) + [0xC3, 0x28] + Array("\":1}".utf8) }
            let err = try #require(expectCheckpointError(try file(header, data: c.data, in: tmp)), "\(c.name)")
            for needle in c.needles { #expect(err.message.contains(needle), "\(c.name): \(err.message)") }
        }
    }

    @Test func headerLengthIsSaneAndInsideTheFile() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let header = Array("{}".utf8)
        let huge = try #require(expectCheckpointError(try file(header, data: 0, length: 100_000_001, in: tmp)))
        #expect(huge.message.contains("implausible"))
        let beyond = try #require(expectCheckpointError(try file(header, data: 0, length: 64, in: tmp)))
        #expect(beyond.kind == .truncated && beyond.message.contains("header needs 64 bytes"))
    }

    /// What the library accepts: any header order as long as the sorted ranges tile the data,
    /// zero-byte tensors at a boundary, trailing spaces after the JSON, metadata of strings.
    @Test func validLayoutsAreAccepted() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let e = Self.entry
        let header = #"{"__metadata__":{"format":"pt"},"# + e("late", "BF16", [2], 8, 12) + "," + e("empty", "F32", [0, 3], 8, 8) + ","
            + e("early", "I32", [2], 0, 8) + "," + e("last", "U8", [0], 12, 12) + "}   "
        let c = try Checkpoint.open(path: try file(header, data: 12, in: tmp))
        #expect(c.tensors.map(\.name) == ["late", "empty", "early", "last"])
        #expect(c.tensors.map(\.tensor.shape) == [[2], [0, 3], [2], [0]])
        let none = try Checkpoint.open(path: try file("{}", data: 0, in: tmp))
        #expect(none.tensors.isEmpty)
    }

    /// Every committed safetensors fixture but the three made broken on purpose passes the rules.
    @Test func committedFixturesPass() throws {
        let broken: Set = ["truncated.safetensors", "bad_offsets.safetensors", "unsupported_dtype.safetensors"]
        let all = FileManager.default.enumerator(atPath: Fixtures.directory.path)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".safetensors") && !broken.contains($0) }
        #expect(all.count >= 4)
        for name in all { #expect(throws: Never.self, "\(name)") { _ = try Checkpoint.open(path: Fixtures.path(name)) } }
    }

    /// The writer lays out mixed dtypes, zero-size tensors and metadata gap-free, so its files
    /// pass the rules above.
    @Test func writerOutputPassesEveryRule() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var tensors: [NamedTensor] = []
        for (i, dtype) in [DType.u8, .f32, .bf16, .i64, .i8, .f16, .i32, .fp8e4m3].enumerated() {
            tensors.append(NamedTensor(name: "t\(i)", tensor: try Tensor.hostEmpty([i % 3, 3], dtype: dtype)))
        }
        let path = tmp.appendingPathComponent("w.safetensors").path
        try SafetensorsWriter.write(tensors, to: path, metadata: ["format": "pt"])
        let c = try Checkpoint.open(path: path)
        #expect(c.tensors.map(\.name) == tensors.map(\.name))
    }
}
