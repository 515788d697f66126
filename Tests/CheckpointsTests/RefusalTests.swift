import Foundation
import Testing
@testable import Checkpoints

/// Hostile, damaged and foreign files: each gives its documented error.
@Suite struct RefusalTests {
    @Test func maliciousPickleIsRefusedNamingTheGlobal() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("malicious.pth")))
        #expect(e.kind == .refused)
        #expect(e.message.hasPrefix("refusing to load: the pickle asks for global 'posix.system'"))
        #expect(e.message.hasSuffix("which a state dict never contains; nothing was executed"))
        #expect(e.path == Fixtures.path("malicious.pth"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/turbodiffusion-pwned"))
    }

    @Test func stackGlobalIsCheckedToo() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("malicious_stack_global.pth")))
        #expect(e.kind == .refused)
        #expect(e.message.contains("'builtins.eval'"))
    }

    @Test func truncatedArchiveSaysTruncated() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("truncated.pth")))
        #expect(e.kind == .truncated)
        #expect(e.message.contains("truncated") && e.message.contains("end-of-central-directory"))
    }

    @Test func truncatedSafetensorsSaysWhatWasExpected() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("truncated.safetensors")))
        #expect(e.kind == .truncated)
        let full = try Fixtures.bytes("all_dtypes.safetensors").count
        #expect(e.message.contains("truncated"))
        #expect(e.message.contains("implies at least \(full)"))
        // Cut inside the JSON header instead.
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let cut = try writeTemporary(Array(try Fixtures.bytes("all_dtypes.safetensors").prefix(100)), name: "cut.safetensors", in: tmp)
        let h = try #require(expectCheckpointError(cut))
        #expect(h.kind == .truncated && h.message.contains("header needs"))
    }

    @Test func offsetsOutsideTheFileAreReported() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("bad_offsets.safetensors")))
        #expect(e.kind == .truncated)
        #expect(e.message.contains("tensor 'far'") && e.message.contains("1000000000000"))
    }

    @Test func compressedEntryIsNamed() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("compressed.pth")))
        #expect(e.kind == .unsupported)
        #expect(e.message.contains("'archive/data.pkl' is compressed"))
    }

    @Test func unsupportedDTypesNameTensorAndType() throws {
        let p = try #require(expectCheckpointError(Fixtures.path("unsupported_dtype.pth")))
        #expect(p.kind == .unsupported && p.message.contains("tensor 'd' is float64 (torch.DoubleStorage)"))
        let s = try #require(expectCheckpointError(Fixtures.path("unsupported_dtype.safetensors")))
        #expect(s.kind == .unsupported && s.message.contains("tensor 'd' is F64"))
    }

    @Test func legacyFormatIsExplained() throws {
        let e = try #require(expectCheckpointError(Fixtures.path("legacy.pt")))
        #expect(e.kind == .unsupported && e.message.contains("legacy"))
    }

    @Test func foreignFilesAreNotCheckpoints() throws {
        let png = try #require(expectCheckpointError(Fixtures.path("not_a_checkpoint.png")))
        #expect(png.kind == .notACheckpoint)
        #expect(png.description == "\(Fixtures.path("not_a_checkpoint.png")): not a checkpoint: the file starts with bytes 89 50 4E 47 0D 0A 1A 0A (looks like PNG image)")
        let text = try #require(expectCheckpointError(Fixtures.path("notes.txt")))
        #expect(text.kind == .notACheckpoint && text.message.contains("looks like text"))
        let empty = try #require(expectCheckpointError(Fixtures.path("empty.bin")))
        #expect(empty.kind == .notACheckpoint && empty.message.contains("empty"))
        let json = try #require(expectCheckpointError(Fixtures.path("expected.json")))
        #expect(json.kind == .notACheckpoint && json.message.contains("weight_map"))
        let missing = try #require(expectCheckpointError(Fixtures.path("no-such-file.pth")))
        #expect(missing.kind == .io)
    }

    @Test func shardedSetsMustBeConsistent() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let shard1 = try Fixtures.bytes("sharded/model-00001-of-00002.safetensors")
        let shard2 = try Fixtures.bytes("sharded/model-00002-of-00002.safetensors")
        _ = try writeTemporary(shard1, name: "s1.safetensors", in: tmp)
        _ = try writeTemporary(shard2, name: "s2.safetensors", in: tmp)

        // Index maps a tensor to a shard that lacks it.
        let wrong = try writeTemporary(Array(#"{"weight_map": {"a.weight": "s2.safetensors", "b.weight": "s2.safetensors"}}"#.utf8), name: "wrong.index.json", in: tmp)
        let w = try #require(expectCheckpointError(wrong))
        #expect(w.kind == .inconsistent && w.message.contains("'a.weight'"))

        // Index names a shard that does not exist.
        let gone = try writeTemporary(Array(#"{"weight_map": {"a.weight": "nope.safetensors"}}"#.utf8), name: "gone.index.json", in: tmp)
        #expect(expectCheckpointError(gone)?.message.contains("nope.safetensors") == true)

        // Index escaping its directory is refused.
        let escape = try writeTemporary(Array(#"{"weight_map": {"a": "../x.safetensors"}}"#.utf8), name: "escape.index.json", in: tmp)
        #expect(expectCheckpointError(escape)?.kind == .corrupt)

        // Duplicate keys in the index JSON.
        let dup = try writeTemporary(Array(#"{"weight_map": {"a.weight": "s1.safetensors", "a.weight": "s1.safetensors"}}"#.utf8), name: "dup.index.json", in: tmp)
        #expect(expectCheckpointError(dup)?.message.contains("duplicate key") == true)

        // A directory with several index files is ambiguous.
        #expect(expectCheckpointError(tmp.path)?.message.contains("several index files") == true)
    }

    @Test func directoryOfShardsWithoutIndex() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        _ = try writeTemporary(try Fixtures.bytes("sharded/model-00001-of-00002.safetensors"), name: "a.safetensors", in: tmp)
        _ = try writeTemporary(try Fixtures.bytes("sharded/model-00002-of-00002.safetensors"), name: "b.safetensors", in: tmp)
        let c = try Checkpoint.open(path: tmp.path)
        #expect(c.format == .safetensorsDirectory)
        #expect(Set(c.names) == ["a.weight", "a.bias", "b.weight", "c.scale"])
        // The same tensors twice → duplicate error naming the tensor.
        _ = try writeTemporary(try Fixtures.bytes("sharded/model-00001-of-00002.safetensors"), name: "c.safetensors", in: tmp)
        let e = try #require(expectCheckpointError(tmp.path))
        #expect(e.kind == .inconsistent && e.message.contains("stored in both"))
        // An empty directory.
        let empty = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(expectCheckpointError(empty.path)?.kind == .notACheckpoint)
    }
}
