import Foundation
import Testing

@Suite struct ForwardT5CommandTests {
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures/t5_tiny.pth").path

    /// A safetensors file of i64 vectors, written by hand (this target does not link Checkpoints).
    static func inputs(_ tensors: [(String, [Int64])], in dir: URL) throws -> String {
        var header = "{", data: [UInt8] = [], parts: [String] = []
        for (name, values) in tensors {
            let begin = data.count
            for v in values { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
            parts.append("\"\(name)\":{\"dtype\":\"I64\",\"shape\":[\(values.count)],\"data_offsets\":[\(begin),\(data.count)]}")
        }
        header += parts.joined(separator: ",") + "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8) + data
        let url = dir.appendingPathComponent("in.safetensors")
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test func encodesAndPadsWithZeroRows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("t5cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.inputs([("ids", [7, 42, 1, 0, 0]), ("mask", [1, 1, 1, 0, 0])], in: dir)
        let out = dir.appendingPathComponent("out.safetensors").path
        let r = try CLI.run(["forward", "t5", "--weights", Self.weights, "--inputs", input, "--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("3 of 5 positions real, 3 computed"))
        // Header + 5·64 f32 values, the last two rows zero.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let start = bytes.count - 5 * 64 * 4
        let values = bytes.withUnsafeBytes { raw in (0..<320).map { raw.loadUnaligned(fromByteOffset: start + $0 * 4, as: Float.self) } }
        #expect(values.count == 320 && values[..<192].contains { $0 != 0 } && values[192...].allSatisfy { $0 == 0 })
    }

    @Test func refusesABadMask() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("t5cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.inputs([("ids", [7, 42, 1]), ("mask", [1, 2, 0])], in: dir)
        let r = try CLI.run(["forward", "t5", "--weights", Self.weights, "--inputs", input, "--output", dir.appendingPathComponent("o").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("'mask' holds 2.0 at position 1"))
    }
}
