import Foundation
import Testing
@testable import Media

/// Damaged files must produce errors, never crashes: deterministic byte mutations of the fixtures.
@Suite struct RobustnessTests {
    static let seeds = ["jpeg/base420_rst.jpg", "jpeg/prog420.jpg", "jpeg/mixed_2x2_2x1.jpg", "jpeg/prog_custom.jpg",
                        "png/p4_i.png", "png/rgba16.png", "png/g1_i.png"]

    @Test(arguments: seeds)
    func mutatedFilesFailCleanly(_ name: String) throws {
        let original = try Fixtures.bytes(name)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(name.utf8.count)
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var decoded = 0, refused = 0
        for _ in 0..<100 {
            var b = original
            for _ in 0..<(1 + next() % 4) {
                let i = next() % b.count
                switch next() % 3 {
                case 0: b[i] = UInt8(truncatingIfNeeded: next())
                case 1: b[i] ^= UInt8(1 << (next() % 8))
                default: b[i] = [0x00, 0xFF, 0x7F, 0x80][next() % 4]
                }
            }
            do {
                let im = try ImageDecoder.decode(bytes: b, name: name)
                #expect(im.pixels.count == im.width * im.height * 3)
                decoded += 1
            } catch is MediaError {
                refused += 1
            }
        }
        #expect(decoded + refused == 100)
    }
}
