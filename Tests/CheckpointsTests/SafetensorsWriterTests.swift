#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TensorCore
@testable import Checkpoints

@Suite struct SafetensorsWriterTests {
    private func leftovers(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
    }

    @Test func roundTripKeepsOrderValuesAndMetadata() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        // Every dtype, plus non-contiguous views (transposed, strided, stride 0).
        let source = try Checkpoint.open(path: Fixtures.path("all_dtypes.pth"))
        let views = try Checkpoint.open(path: Fixtures.path("views.pth"))
        let tensors = source.tensors + views.tensors
        let out = tmp.appendingPathComponent("round.safetensors").path
        try SafetensorsWriter.write(tensors, to: out, metadata: ["format": "pt", "quote\"d": "line\nbreak"])
        let back = try Checkpoint.open(path: out)
        #expect(back.names == tensors.map(\.name))
        #expect(Dictionary(uniqueKeysWithValues: back.metadata.map { ($0.key, $0.value) }) == ["format": "pt", "quote\"d": "line\nbreak"])
        for (a, b) in zip(back.tensors, tensors) {
            #expect(a.tensor.dtype == b.tensor.dtype && a.tensor.shape == b.tensor.shape, "\(a.name)")
            #expect(a.tensor.isContiguous)
            if a.tensor.dtype.isFloatingPoint {
                let x = try a.tensor.floats(), y = try b.tensor.floats()
                #expect(zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(a.name)")
            } else {
                #expect(try a.tensor.int64s() == b.tensor.int64s(), "\(a.name)")
            }
            // Aligned data means zero-copy reads.
            #expect(try a.tensor.hostBuffer().isReadOnly)
        }
        #expect(try leftovers(tmp).isEmpty)
    }

    @Test func outputIsReadableByTheReferenceLayout() throws {
        // Header length is a multiple of 8 and offsets are contiguous from 0 without gaps.
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let t1 = try Tensor.host([1, 2, 3], shape: [3], dtype: .u8)
        let t2 = try Tensor.host([1.5, -2], shape: [2], dtype: .f32)
        let out = tmp.appendingPathComponent("x.safetensors").path
        try SafetensorsWriter.write([NamedTensor(name: "small", tensor: t1), NamedTensor(name: "big", tensor: t2)], to: out)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: out)))
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(n % 8 == 0)
        #expect(bytes.count == 8 + n + 11)
        let header = try bytes[8 ..< 8 + n].withUnsafeBytes { try JSONValue.parse($0) }
        #expect(header["big"]?["data_offsets"] == .array([.int(0), .int(8)]))
        #expect(header["small"]?["data_offsets"] == .array([.int(8), .int(11)]))
        let back = try Checkpoint.open(path: out)
        #expect(back.names == ["small", "big"])
        #expect(try back.tensor("big").floats() == [1.5, -2])
    }

    @Test func replacingAnExistingFileIsAtomic() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("w.safetensors").path
        try SafetensorsWriter.write([NamedTensor(name: "a", tensor: try Tensor.host([1], shape: [1]))], to: out)
        try SafetensorsWriter.write([NamedTensor(name: "b", tensor: try Tensor.host([2, 3], shape: [2]))], to: out)
        #expect(try Checkpoint.open(path: out).names == ["b"])
        #expect(try leftovers(tmp).isEmpty)
    }

    @Test func failuresRemoveTheTemporaryFile() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let t = [NamedTensor(name: "a", tensor: try Tensor.host([1], shape: [1]))]
        // The final rename fails: the destination is a non-empty directory.
        let blocker = tmp.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: blocker.appendingPathComponent("inside"), withIntermediateDirectories: true)
        #expect(throws: CheckpointError.self) { try SafetensorsWriter.write(t, to: blocker.path) }
        #expect(try leftovers(tmp).isEmpty)
        // The directory does not exist: nothing can be created.
        let e = #expect(throws: CheckpointError.self) {
            try SafetensorsWriter.write(t, to: tmp.appendingPathComponent("no/such/dir/x.safetensors").path)
        }
        #expect(e?.kind == .io)
        // Duplicate names are refused before anything is written.
        #expect(throws: CheckpointError.self) { try SafetensorsWriter.write(t + t, to: tmp.appendingPathComponent("d.safetensors").path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["taken"])
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full")))
    func diskFullIsReportedClearly() throws {
        // /dev/full accepts open() but every write fails with ENOSPC; drive the sink directly.
        let fd = Glibc.open("/dev/full", O_WRONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let sink = AtomicFile.Sink(fd: fd, path: "/dev/full", finalPath: "model.safetensors")
        let e = #expect(throws: CheckpointError.self) {
            try [UInt8](repeating: 1, count: 64).withUnsafeBytes { try sink.write($0) }
        }
        #expect(e?.message.contains("disk full") == true)
    }
}

@Suite struct SafetensorsStreamingWriterTests {
    @Test func streamedFileReadsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.safetensors").path
        // 3 M bf16 elements span several 4 MiB chunks; the i32 tensor is laid out first (wider).
        let specs: [(name: String, dtype: DType, shape: [Int])] = [("big", .bf16, [3, 1 << 20]), ("ids", .i32, [5])]
        try SafetensorsWriter.write(streaming: specs, to: path) { index, chunk, at in
            let size = specs[index].dtype.byteSize
            for e in 0..<(chunk.count / size) {
                let element = at / size + e
                if index == 0 {
                    chunk.storeBytes(of: BF16.bits(Float(element % 251)), toByteOffset: e * 2, as: UInt16.self)
                } else {
                    chunk.storeBytes(of: Int32(element * 3), toByteOffset: e * 4, as: Int32.self)
                }
            }
        }
        let f = try Checkpoint.open(path: path)
        let big = try f.tensor("big").floats()
        #expect(big.count == 3 << 20 && big[0] == 0 && big[300] == 49 && big[(3 << 20) - 1] == Float(((3 << 20) - 1) % 251))
        #expect(try f.tensor("ids").int64s() == [0, 3, 6, 9, 12])
    }
}
