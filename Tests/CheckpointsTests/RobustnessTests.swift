import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Damaged inputs must only ever produce thrown errors: no traps, no out-of-bounds views.
@Suite struct RobustnessTests {
    static let fixtures = ["all_dtypes.pth", "views.pth", "zip64.pth", "module_state.pth", "nested.pth",
                           "all_dtypes.safetensors", "kind_wan_dit.safetensors"]

    /// Opens `path`; on success reads every value (which would trap on a bad view).
    private func openAndTouch(_ path: String, _ label: String) {
        do {
            let c = try Checkpoint.open(path: path)
            for t in c.tensors { _ = try t.tensor.floats() }
        } catch is CheckpointError {
        } catch {
            Issue.record("\(label): \(type(of: error)) instead of CheckpointError: \(error)")
        }
    }

    @Test(arguments: fixtures)
    func everyTruncationThrows(_ fixture: String) throws {
        let bytes = try Fixtures.bytes(fixture)
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var cuts = Set(0 ..< min(bytes.count, 96))
        cuts.formUnion(max(0, bytes.count - 96) ..< bytes.count)
        cuts.formUnion(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)))
        for n in cuts.sorted() {
            let path = try writeTemporary(Array(bytes.prefix(n)), name: "cut", in: tmp)
            do {
                _ = try Checkpoint.open(path: path)
                Issue.record("\(fixture) cut to \(n) of \(bytes.count) bytes opened without error")
            } catch is CheckpointError {
            } catch {
                Issue.record("\(fixture) cut to \(n): \(type(of: error)): \(error)")
            }
        }
    }

    @Test(arguments: fixtures)
    func randomByteFlipsOnlyThrow(_ fixture: String) throws {
        let original = try Fixtures.bytes(fixture)
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var rng = SplitMix64(seed: 0x5EED ^ UInt64(original.count))
        for round in 0 ..< 250 {
            var bytes = original
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) {
                bytes[Int.random(in: 0 ..< bytes.count, using: &rng)] ^= UInt8.random(in: 1 ... 255, using: &rng)
            }
            let path = try writeTemporary(bytes, name: "flip", in: tmp)
            openAndTouch(path, "\(fixture) round \(round)")
        }
    }

    /// Flips inside data.pkl with the CRC recomputed, so the damage reaches the unpickler and
    /// the tensor builder instead of stopping at the checksum.
    @Test(arguments: ["all_dtypes.pth", "views.pth", "module_state.pth", "nested.pth"])
    func damagedPicklesBehindValidChecksumsOnlyThrow(_ fixture: String) throws {
        let original = try Fixtures.bytes(fixture)
        let zip = try original.withUnsafeBytes { try ZipArchive(ByteView(bytes: $0, name: fixture)) }
        let pkl = try #require(zip.entries.first { $0.name.hasSuffix("/data.pkl") })
        let crcField = try #require(centralCRCOffset(original, name: pkl.name))
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var rng = SplitMix64(seed: 42)
        for round in 0 ..< 300 {
            var bytes = original
            for _ in 0 ..< Int.random(in: 1 ... 3, using: &rng) {
                bytes[pkl.dataOffset + Int.random(in: 0 ..< pkl.compressedSize, using: &rng)] ^= UInt8.random(in: 1 ... 255, using: &rng)
            }
            let crc = bytes[pkl.dataOffset ..< pkl.dataOffset + pkl.compressedSize].withUnsafeBytes { CRC32.checksum($0) }
            bytes.replaceSubrange(crcField ..< crcField + 4, with: le32(Int(crc)))
            openAndTouch(try writeTemporary(bytes, name: "pkl", in: tmp), "\(fixture) pickle round \(round)")
        }
    }

    @Test func truncatedPicklesOnlyThrow() throws {
        let bytes = try Fixtures.bytes("module_state.pth")
        let zip = try bytes.withUnsafeBytes { try ZipArchive(ByteView(bytes: $0, name: "m")) }
        let pkl = try #require(zip.entries.first { $0.name.hasSuffix("/data.pkl") })
        let data = Array(bytes[pkl.dataOffset ..< pkl.dataOffset + pkl.compressedSize])
        for n in 0 ..< data.count {
            data.prefix(n).withUnsafeBytes { raw in
                var u = Unpickler(ByteView(bytes: raw, name: "p")) { TorchGlobals.isAllowed(module: $0, name: $1) }
                #expect(throws: CheckpointError.self, "cut at \(n)") { _ = try u.load() }
            }
        }
    }

    /// Random pickles assembled from the structures the unpickler validates (frames of random
    /// length, marks, memo indices near and far, persistent ids of right and wrong form, cut-off
    /// arguments): they load or throw a `CheckpointError` naming a byte offset, and every
    /// structural rule is met at least once.
    @Test func structuredRandomPicklesOnlyThrow() throws {
        var rng = SplitMix64(seed: 0x91C)
        func r(_ n: Int) -> Int { Int.random(in: 0 ..< n, using: &rng) }
        let pieces: [(inout [UInt8], () -> Int) -> Void] = [
            { b, _ in b += [0x28] }, { b, _ in b += [0x5D] }, { b, _ in b += [0x7D] }, { b, _ in b += [0x29] },
            { b, n in b += [0x4B, UInt8(n() % 256)] }, { b, _ in b += [0x8C, 1, 0x61] }, { b, _ in b += [0x74] },
            { b, n in b += [0x85 + UInt8(n() % 3)] }, { b, _ in b += [0x61] }, { b, _ in b += [0x65] }, { b, _ in b += [0x73] },
            { b, _ in b += [0x75] }, { b, _ in b += [0x64] }, { b, _ in b += [0x6C] }, { b, _ in b += [0x30] }, { b, _ in b += [0x31] },
            { b, _ in b += [0x32] }, { b, _ in b += [0x94] }, { b, n in b += [0x71, UInt8(n() % 6)] }, { b, n in b += [0x68, UInt8(n() % 6)] },
            { b, n in b += [0x72] + le32(n() % 2 == 0 ? n() % 6 : 0x7FFF_FFF0) }, { b, n in b += [0x6A] + le32(n() % 8) },
            { b, n in b += [0x95] + withUnsafeBytes(of: UInt64(n() % 24).littleEndian) { Array($0) } },
            { b, _ in b += [0x51] }, { b, _ in b += Array("ctorch\nFloatStorage\n".utf8) },
            { b, n in  // a persistent id, right or wrong
                var p = PickleBuilder(protocol: 2)
                p.op(0x28)
                p.string(n() % 3 == 0 ? "module" : "storage")
                if n() % 4 != 0 { p.global("torch", "FloatStorage") }
                p.string("0"); p.string("cpu"); p.int(n() % 5)
                p.op(0x74, 0x51)
                b += p.bytes.dropFirst(2)
            },
            { b, n in b += [[0x4A, 0x58, 0x72, 0x8E][n() % 4], 1] },  // an argument cut short
        ]
        var accepted = 0
        var seen: [String: Int] = [:]
        let rules = ["split across frames", "FRAME at byte", "memo index", "open MARK", "persistent id", "needs a MARK",
                     "above the last mark", "truncated"]
        for round in 0 ..< 4000 {
            var bytes: [UInt8] = [0x80, 4]
            for _ in 0 ..< r(24) { pieces[r(pieces.count)](&bytes, { r(1 << 20) }) }
            if r(8) != 0 { bytes.append(0x2E) }
            do {
                _ = try bytes.withUnsafeBytes { raw in
                    var u = Unpickler(ByteView(bytes: raw, name: "fuzz")) { TorchGlobals.isAllowed(module: $0, name: $1) }
                    defer { u.dismantle() }
                    return try u.load()
                }
                accepted += 1
            } catch let e as CheckpointError {
                #expect(e.message.contains("byte"), "round \(round): \(e.message)")
                for rule in rules where e.message.contains(rule) { seen[rule, default: 0] += 1 }
            } catch {
                Issue.record("round \(round): \(type(of: error)): \(error)")
            }
        }
        #expect(accepted > 20, "only \(accepted) random pickles were well formed")
        for rule in rules { #expect(seen[rule, default: 0] > 0, "no random pickle broke the rule '\(rule)'") }
    }

    @Test func hostileSafetensorsHeaders() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        func file(_ header: String, data: Int = 0) throws -> String {
            let h = Array(header.utf8)
            var length = UInt64(h.count).littleEndian
            let prefix = withUnsafeBytes(of: &length) { Array($0) }
            return try writeTemporary(prefix + h + [UInt8](repeating: 0, count: data), name: "h.safetensors", in: tmp)
        }
        let cases: [(String, String)] = [
            (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#, "more elements"),
            (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "non-negative"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "ordered range"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, "needs 8"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}"#, "truncated"),
            (#"{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}"#, "BOOL"),
            (#"{"a":{"shape":[1],"data_offsets":[0,1]}}"#, "dtype"),
            (#"{"__metadata__":{"k":1}}"#, "not a string"),
            (#"{"a":1, "a":2}"#, "duplicate key"),
            (#"[1,2]"#, "neither a torch.save"),  // not sniffed as safetensors at all
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, "JSON"),
        ]
        for (header, needle) in cases {
            let e = try #require(expectCheckpointError(try file(header, data: 8)), "\(header)")
            #expect(e.message.contains(needle), "\(header): \(e.message)")
        }
    }
}

/// Offset of the CRC field in the central directory header of entry `name`.
func centralCRCOffset(_ bytes: [UInt8], name: String) -> Int? {
    let n = Array(name.utf8)
    var i = 0
    while i + 46 + n.count <= bytes.count {
        if bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 1, bytes[i + 3] == 2,
           Array(bytes[i + 46 ..< i + 46 + n.count]) == n {
            return i + 16
        }
        i += 1
    }
    return nil
}
