import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Hand-made torch archives: storage and view validation beyond what torch.save produces.
@Suite struct TorchArchiveTests {
    private func open(_ bytes: [UInt8]) throws -> Checkpoint {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        return try Checkpoint.open(path: try writeTemporary(bytes, name: "t.pth", in: tmp))
    }

    private func error(_ bytes: [UInt8]) -> CheckpointError? {
        do {
            _ = try open(bytes)
            return nil
        } catch {
            return error as? CheckpointError
        }
    }

    private let storage = floatBytes((0 ..< 12).map(Float.init))

    @Test func sharedStorageAtOffsetsAnyLocation() throws {
        let pkl = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "0", location: "cuda:1", numel: 12, offset: 2, size: [2, 2], stride: [1, 2])
            p.string("b"); p.tensor(storage: "FloatStorage", key: "0", location: "cuda:1", numel: 12, offset: 9, size: [3], stride: [1])
        }
        let c = try open(torchArchive(pickle: pkl, storages: [("0", storage)]))
        let a = try c.tensor("a"), b = try c.tensor("b")
        #expect(a.buffer === b.buffer)
        #expect(try a.floats() == [2, 4, 3, 5])
        #expect(try b.floats() == [9, 10, 11])
        #expect(c.notes.contains { $0.contains("cuda:1") })
    }

    @Test func viewsBeyondTheirStorageAreRejected() {
        let pkl = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "0", numel: 12, offset: 10, size: [3], stride: [1])
        }
        let e = error(torchArchive(pickle: pkl, storages: [("0", storage)]))
        #expect(e?.kind == .corrupt && e?.message.contains("reaches beyond its storage of 12 elements") == true)
        // Strides that overflow Int.
        let huge = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "0", numel: 12, size: [3, 3], stride: [Int(Int32.max), Int(Int32.max)])
        }
        #expect(error(torchArchive(pickle: huge, storages: [("0", storage)]))?.kind == .corrupt)
    }

    @Test func storageLargerThanItsEntryIsRejected() {
        let pkl = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "0", numel: 13, size: [13], stride: [1])
        }
        let e = error(torchArchive(pickle: pkl, storages: [("0", storage)]))
        #expect(e?.message.contains("holds 48 bytes") == true)
    }

    @Test func missingStorageEntryIsNamed() {
        let pkl = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "7", numel: 1, size: [1], stride: [1])
        }
        #expect(error(torchArchive(pickle: pkl, storages: []))?.message.contains("'t/data/7'") == true)
    }

    @Test func oneStorageWithTwoDTypesIsRejected() {
        let pkl = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "0", numel: 12, size: [12], stride: [1])
            p.string("b"); p.tensor(storage: "IntStorage", key: "0", numel: 12, size: [12], stride: [1])
        }
        #expect(error(torchArchive(pickle: pkl, storages: [("0", storage)]))?.message.contains("used as float32 and as int32") == true)
    }

    @Test func byteorderMustBeLittle() throws {
        let pkl = PickleBuilder.stateDict { _ in }
        #expect(try open(torchArchive(pickle: pkl, storages: [])).tensors.isEmpty)
        let e = error(torchArchive(pickle: pkl, storages: [], byteorder: "big"))
        #expect(e?.kind == .unsupported && e?.message.contains("'big'") == true)
    }

    @Test func misalignedStoragesAreCopiedNotTrapped() throws {
        // makeZip does not align data: storage "0" starts at 125 + pickle length (three local
        // headers of 30 bytes + names of 10, 11 and 8 bytes, and the 6-byte byteorder entry).
        var pkl = PickleBuilder.stateDict { p in
            p.string("a"); p.tensor(storage: "FloatStorage", key: "0", numel: 12, size: [12], stride: [1])
        }
        while (125 + pkl.count) % 4 == 0 { pkl.insert(contentsOf: [0x4E, 0x30], at: 2) }  // NONE, POP: no-ops
        let c = try open(torchArchive(pickle: pkl, storages: [("0", storage)]))
        #expect(try c.tensor("a").floats() == (0 ..< 12).map(Float.init))
        #expect(try !c.tensor("a").hostBuffer().isReadOnly, "a misaligned storage must be copied")
    }

    @Test func corruptedPickleFailsItsCRC() throws {
        var bytes = try Fixtures.bytes("views.pth")
        let zip = try bytes.withUnsafeBytes { try ZipArchive(ByteView(bytes: $0, name: "v")) }
        let pkl = try #require(zip.entry("views/data.pkl"))
        bytes[pkl.dataOffset + 40] ^= 0x01
        let e = error(bytes)
        #expect(e?.kind == .corrupt && e?.message.contains("CRC") == true)
    }

    @Test func nonDictRootIsExplained() {
        let e = error(torchArchive(pickle: [0x80, 2, 0x5D, 0x2E], storages: []))
        #expect(e?.kind == .unsupported && e?.message.contains("not a dict of tensors") == true)
    }

    @Test func zipWithoutPickleIsNotACheckpoint() {
        let e = error(makeZip([("readme.txt", Array("hi".utf8))]))
        #expect(e?.kind == .notACheckpoint && e?.message.contains("data.pkl") == true)
    }

    @Test func zip64ArchiveIsRead() throws {
        let bytes = try Fixtures.bytes("zip64.pth")
        let zip = try bytes.withUnsafeBytes { try ZipArchive(ByteView(bytes: $0, name: "z")) }
        #expect(zip.entries.map(\.name).contains("big/data.pkl"))
        for e in zip.entries { #expect(e.dataOffset % 64 == 0, "\(e.name) aligned") }
    }
}
