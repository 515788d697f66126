import Foundation
import Testing
import TensorCore
@testable import Checkpoints

private func load(_ bytes: [UInt8]) throws -> PickleValue {
    try bytes.withUnsafeBytes { raw in
        var u = Unpickler(ByteView(bytes: raw, name: "p.pkl")) { TorchGlobals.isAllowed(module: $0, name: $1) }
        defer { u.dismantle() }
        return try u.load()
    }
}

private func failure(_ bytes: [UInt8]) -> CheckpointError? {
    do { _ = try load(bytes); return nil } catch { return error as? CheckpointError }
}

private func le64(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(n).littleEndian) { Array($0) } }

/// Pickle structure rules as CPython's unpickler (and pickletools) enforce them; every error
/// names the opcode and its byte offset.
@Suite struct PickleStructureTests {
    /// (bytes, kind, words the message must contain)
    static let rejected: [(String, [UInt8], CheckpointError.Kind, [String])] = [
        ("frame longer than the data", [0x80, 4, 0x95] + le64(100) + [0x4B, 1, 0x2E], .truncated,
         ["FRAME at byte 2 announces 100 bytes but only 3 remain"]),
        ("frame inside a frame", [0x80, 4, 0x95] + le64(12) + [0x95] + le64(3) + [0x4B, 1, 0x2E, 0x2E], .corrupt,
         ["FRAME at byte 11 begins before the frame started at byte 2 ends (at byte 23)"]),
        ("argument split across frames", [0x80, 4, 0x95] + le64(3) + [0x4A, 1, 0] + [0x95] + le64(3) + [0, 0, 0x2E], .corrupt,
         ["BININT at byte 11 is split across frames", "frame started at byte 2 (at byte 14)"]),
        ("text argument split across frames", [0x80, 4, 0x95] + le64(4) + Array("Icol".utf8) + Array("l\nX\n".utf8) + [0x2E], .corrupt,
         ["INT at byte 11 is split across frames"]),
        ("memo index beyond the pickle", [0x80, 2, 0x4B, 1, 0x72, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], .corrupt,
         ["LONG_BINPUT at byte 4 stores memo index 2147483647, out of range"]),
        ("memo index never stored", [0x80, 2, 0x4B, 1, 0x71, 0, 0x6A, 5, 0, 0, 0, 0x2E], .corrupt,
         ["LONG_BINGET at byte 6 fetches memo index 5, which was never stored (1 stored)"]),
        ("PUT below the mark", [0x80, 2, 0x4B, 1, 0x28, 0x71, 0, 0x2E], .corrupt, ["BINPUT at byte 5", "above the last mark"]),
        ("DUP below the mark", [0x80, 2, 0x4B, 1, 0x28, 0x32, 0x2E], .corrupt, ["DUP at byte 5", "above the last mark"]),
        ("REDUCE underflow", [0x80, 2, 0x29, 0x52, 0x2E], .corrupt, ["REDUCE at byte 3 of p.pkl needs 1 stack item(s)"]),
        ("TUPLE2 across a mark", [0x80, 2, 0x4B, 1, 0x28, 0x4B, 2, 0x86, 0x2E], .corrupt, ["TUPLE2 at byte 7", "needs 2 stack item(s)"]),
        ("APPEND onto the mark", [0x80, 2, 0x5D, 0x28, 0x4B, 1, 0x61, 0x2E], .corrupt, ["APPEND at byte 6", "above the last mark"]),
        ("TUPLE without MARK", [0x80, 2, 0x4B, 1, 0x74, 0x2E], .corrupt, ["TUPLE at byte 4 needs a MARK"]),
        ("STOP with an open MARK", [0x80, 2, 0x28, 0x4B, 1, 0x2E], .corrupt, ["STOP at byte 5 leaves 1 open MARK(s)"]),
        ("STOP with values left", [0x80, 2, 0x4B, 1, 0x4B, 2, 0x2E], .corrupt, ["STOP at byte 6 leaves 0 open MARK(s) and 1 value(s)"]),
        ("persistent id that is a string", [0x80, 2, 0x8C, 1, 0x61, 0x51, 0x2E], .corrupt,
         ["BINPERSID at byte 5: a persistent id of type str", "('storage', storage class, key, location, numel)"]),
        ("text persistent id", [0x50] + Array("0\n".utf8) + [0x2E], .corrupt, ["PERSID at byte 0: a persistent id of type str"]),
    ]

    @Test(arguments: rejected.indices)
    func structuralErrorsNameOpcodeAndOffset(_ i: Int) throws {
        let (label, bytes, kind, words) = Self.rejected[i]
        let e = try #require(failure(bytes), "\(label) was accepted")
        #expect(e.kind == kind, "\(label): \(e)")
        for w in words { #expect(e.message.contains(w), "\(label): \(e.message)") }
    }

    @Test func persistentIDsOnlyOfTheFormTorchWrites() throws {
        func pid(_ body: (inout PickleBuilder) -> Void) -> [UInt8] {
            var p = PickleBuilder()
            p.op(0x28)
            body(&p)
            p.op(0x74, 0x51, 0x2E)
            return p.bytes
        }
        let good = pid { p in p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cuda:0"); p.int(3) }
        guard case .persistent = try load(good) else { Issue.record("not a persistent id"); return }
        let untyped = pid { p in p.string("storage"); p.global("torch.storage", "UntypedStorage"); p.string("k"); p.string("cpu"); p.int(12) }
        #expect(throws: Never.self) { _ = try load(untyped) }
        let bad: [(String, [UInt8])] = [
            ("starting with a str rather than 5 starting with 'storage'", pid { p in p.string("module"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(3) }),
            ("4 item(s)", pid { p in p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu") }),
            ("storage class is of type str", pid { p in p.string("storage"); p.string("torch.FloatStorage"); p.string("0"); p.string("cpu"); p.int(3) }),
            ("collections.OrderedDict, not a torch storage class",
             pid { p in p.string("storage"); p.global("collections", "OrderedDict"); p.string("0"); p.string("cpu"); p.int(3) }),
            ("key or location", pid { p in p.string("storage"); p.global("torch", "FloatStorage"); p.int(0); p.string("cpu"); p.int(3) }),
            ("element count", pid { p in p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(-1) }),
        ]
        for (words, bytes) in bad {
            let e = try #require(failure(bytes), "\(words)")
            #expect(e.message.contains("BINPERSID at byte") && e.message.contains(words), "\(e.message)")
        }
    }

    /// Whole frames, an empty frame, and unframed data after a frame (as protocol 4 writes large
    /// byte strings) are all fine.
    @Test func wellFormedFramesAreRead() throws {
        let bytes: [UInt8] = [0x80, 4, 0x95] + le64(3) + [0x28, 0x4B, 7] + [0x95] + le64(0)
            + [0x8E] + le64(3) + [1, 2, 3] + [0x95] + le64(2) + [0x74, 0x2E]
        guard case .tuple(let items) = try load(bytes), items.count == 2, case .int(7) = items[0], case .bytes([1, 2, 3]) = items[1] else {
            Issue.record("wrong value"); return
        }
    }

    /// Every opcode with an argument, cut right after the opcode byte: a truncation error that
    /// names the opcode and where it starts.
    @Test func truncatedArgumentsNameTheOpcode() throws {
        let opcodes: [(UInt8, String)] = [
            (0x4A, "BININT"), (0x4B, "BININT1"), (0x4D, "BININT2"), (0x8A, "LONG1"), (0x8B, "LONG4"), (0x47, "BINFLOAT"),
            (0x49, "INT"), (0x4C, "LONG"), (0x46, "FLOAT"), (0x58, "BINUNICODE"), (0x8C, "SHORT_BINUNICODE"),
            (0x8D, "BINUNICODE8"), (0x54, "BINSTRING"), (0x55, "SHORT_BINSTRING"), (0x42, "BINBYTES"), (0x43, "SHORT_BINBYTES"),
            (0x8E, "BINBYTES8"), (0x96, "BYTEARRAY8"), (0x63, "GLOBAL"), (0x71, "BINPUT"), (0x72, "LONG_BINPUT"), (0x68, "BINGET"),
            (0x6A, "LONG_BINGET"), (0x95, "FRAME"), (0x80, "PROTO"), (0x70, "PUT"), (0x67, "GET"), (0x50, "PERSID"),
        ]
        for (op, name) in opcodes {
            let e = try #require(failure([0x80, 2, 0x4E, op]), "\(name)")
            #expect(e.kind == .truncated && e.message.contains("\(name) at byte 3"), "\(name): \(e.message)")
            // Half an argument too (where the argument is longer than one byte).
            if [0x4A, 0x47, 0x58, 0x8D, 0x8E, 0x72, 0x6A, 0x95].contains(op) {
                let half = try #require(failure([0x80, 2, 0x4E, op, 1]), "\(name)")
                #expect(half.kind == .truncated && half.message.contains("\(name) at byte 3"), "\(name): \(half.message)")
            }
        }
    }

    /// torch.load reads a record into a storage of exactly numel × element size bytes.
    @Test func storageBytesMustMatchDTypeTimesNumel() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        func archive(numel: Int, bytes: Int) throws -> String {
            let pkl = PickleBuilder.stateDict { p in
                p.string("w"); p.tensor(storage: "FloatStorage", key: "0", numel: numel, size: [2], stride: [1])
            }
            return try writeTemporary(torchArchive(pickle: pkl, storages: [("0", [UInt8](repeating: 0, count: bytes))]), name: "s.pth", in: tmp)
        }
        #expect(try Checkpoint.open(path: archive(numel: 3, bytes: 12)).tensors.count == 1)
        let larger = try #require(expectCheckpointError(try archive(numel: 3, bytes: 16)))
        #expect(larger.message.contains("storage 't/data/0' holds 16 bytes but tensor 'w' declares 3 elements of float32 (12 bytes)"), "\(larger.message)")
        let smaller = try #require(expectCheckpointError(try archive(numel: 3, bytes: 8)))
        #expect(smaller.message.contains("holds 8 bytes") && smaller.message.contains("must match"))
    }
}
