import Foundation
import Testing
@testable import Media

@Suite struct PNGWriterTests {
    @Test func deflateRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        let random = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let runs = [UInt8](repeating: 7, count: 100_000) + Array("abcabcabcabd".utf8) + [UInt8](repeating: 0, count: 40_000)
        // Long-distance repeats (up to the 32 KiB window edge).
        let block = (0..<32_768).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }
        for data in [random, runs, block + block + block, [], [42]] {
            let z = Deflate.zlib(data)
            #expect(try Inflate.zlib(z) == data)
        }
        let z = Deflate.zlib(runs)
        #expect(z.count < runs.count / 50)
    }

    @Test func encodedPNGDecodesToTheSameImage() throws {
        for (w, h) in [(1, 1), (17, 9), (64, 48), (3, 100)] {
            let image = testImage(width: w, height: h, seed: w)
            let png = PNGEncoder.encode(image)
            #expect(try ImageDecoder.decode(bytes: png) == image)
        }
    }

    @Test func framesAreWrittenAtomicallyWithNumberedNames() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let dir = tmp.appendingPathComponent("nested/frames").path  // parents are created
        let frames = (0..<3).map { testImage(width: 8, height: 6, seed: $0) }
        let paths = try PNGEncoder.writeFrames(frames, toDirectory: dir)
        #expect(paths.map { URL(fileURLWithPath: $0).lastPathComponent } == ["frame_00000.png", "frame_00001.png", "frame_00002.png"])
        for (p, f) in zip(paths, frames) { #expect(try ImageDecoder.decode(path: p) == f) }
        // Nothing but the frames is left in the folder (no temporary files).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == paths.map { URL(fileURLWithPath: $0).lastPathComponent })
    }

    /// A frame that cannot be put in place (here a folder squats its name, which even root cannot
    /// rename over) fails the whole set: no frame of it, no temporary file is left.
    @Test func frameSetIsAllOrNothing() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let dir = tmp.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("frame_00002.png"), withIntermediateDirectories: true)
        let frames = (0..<4).map { testImage(width: 8, height: 6, seed: $0) }
        #expect { try PNGEncoder.writeFrames(frames, toDirectory: dir.path) } throws: { error in
            "\(error)".contains("frame_00002.png")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["frame_00002.png"])
        // A folder that cannot be created (its parent is a file) fails before anything is written.
        let file = tmp.appendingPathComponent("plain")
        try Data([1]).write(to: file)
        #expect(throws: MediaError.self) { try PNGEncoder.writeFrames(frames, toDirectory: file.appendingPathComponent("frames").path) }
    }

    @Test func abortedOutputLeavesNothing() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let target = tmp.appendingPathComponent("out.bin").path
        try AtomicOutput.write([1, 2, 3], to: target)
        do {
            let out = try AtomicOutput(path: target)
            try out.write([9, 9, 9, 9])
            #expect(FileManager.default.fileExists(atPath: out.temporaryPath))
            out.abort()
            #expect(!FileManager.default.fileExists(atPath: out.temporaryPath))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data([1, 2, 3]))  // old file intact
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["out.bin"])
        // An output dropped without commit is removed too.
        do { let out = try AtomicOutput(path: tmp.appendingPathComponent("dropped").path); try out.write([1]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["out.bin"])
    }

    @Test func writeErrorsNameTheCause() throws {
        // /dev/full reports ENOSPC on every write: the disk-full message must say so.
        guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
        #expect(AtomicOutput.systemReason(ENOSPC).contains("disk is full"))
        do {
            try AtomicOutput.write([1], to: "/proc/version/impossible/x.png")
            Issue.record("writing under /proc/version succeeded")
        } catch let e as MediaError {
            #expect(e.description.contains("/proc/version/impossible/x.png"))
        }
    }
}
