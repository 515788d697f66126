@testable import BackendCUDA
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Testing

/// The cuDNN plan choices kept across processes (no GPU needed: the file format and its handling).
struct CudnnChoiceCacheTests {
    private func scratchDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cudnn-choices-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func recordedChoicesReachANewProcess() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = CudnnChoiceCache(directory: dir)
        #expect(first.choice(for: "H100|cuDNN 9.14.0|bf16 x[1, 96, 6, 480, 832]") == nil)
        first.record(2, for: "H100|cuDNN 9.14.0|bf16 x[1, 96, 6, 480, 832]")
        first.record(-1, for: "H100|cuDNN 9.14.0|bf16 x[1, 384, 3, 60, 104]")
        let second = CudnnChoiceCache(directory: dir)
        #expect(second.choice(for: "H100|cuDNN 9.14.0|bf16 x[1, 96, 6, 480, 832]") == 2)
        #expect(second.choice(for: "H100|cuDNN 9.14.0|bf16 x[1, 384, 3, 60, 104]") == -1)
        // Only the file itself is left: the temporary file was renamed into place.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [CudnnChoiceCache.fileName])
    }

    @Test func unreadableLinesAreSkipped() {
        let parsed = CudnnChoiceCache.parse("3\tgood key\nx\tbad choice\n-2\tbelow legacy\n\tno choice\n4\t\nno tab at all\n-1\tlegacy key\n")
        #expect(parsed == ["good key": 3, "legacy key": -1])
        #expect(CudnnChoiceCache.parse(CudnnChoiceCache.render(parsed)) == parsed)
    }

    @Test func withoutAFolderTheCacheLivesInMemory() throws {
        let cache = CudnnChoiceCache(directory: nil)
        cache.record(1, for: "k")
        #expect(cache.choice(for: "k") == 1)
        #expect(cache.path == nil)
    }

    @Test func aMissingFolderOnlyCostsTheTiming() {
        let cache = CudnnChoiceCache(directory: "/nonexistent-\(UInt64.random(in: 0...UInt64.max))/kernels")
        cache.record(0, for: "k")   // the write fails quietly
        #expect(cache.choice(for: "k") == 0)
    }
}
