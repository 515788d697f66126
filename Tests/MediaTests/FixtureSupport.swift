import Foundation
import Testing
@testable import Media

/// Fixtures written by scripts/reference/make_media_fixtures.py.
enum Fixtures {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))) }

    struct ImageCase: Sendable, CustomStringConvertible {
        let name: String
        let width: Int, height: Int
        let expected: String
        let overBlack: String?, overWhite: String?
        let stored: [Int]?
        var file: String { name + (name.hasPrefix("png/") ? ".png" : ".jpg") }
        var description: String { name }
    }

    static let images: [ImageCase] = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("images.json")),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return [] }
        return json.keys.sorted().map { k in
            let e = json[k]!
            return ImageCase(name: k, width: e["width"] as! Int, height: e["height"] as! Int,
                             expected: e["expected"] as! String, overBlack: e["over_black"] as? String,
                             overWhite: e["over_white"] as? String, stored: e["stored"] as? [Int])
        }
    }()

    nonisolated(unsafe) static let resize: [String: Any] = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("resize.json")),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return json
    }()

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("media-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Largest per-byte difference and how many bytes differ.
func compare(_ a: [UInt8], _ b: [UInt8]) -> (maxDiff: Int, differing: Int) {
    guard a.count == b.count else { return (Int.max, Int.max) }
    var m = 0, n = 0
    for i in a.indices where a[i] != b[i] {
        m = max(m, abs(Int(a[i]) - Int(b[i])))
        n += 1
    }
    return (m, n)
}

/// A deterministic test image: ramps, a hard-edged block and hashed noise.
func testImage(width: Int, height: Int, seed: Int = 0) -> RGBImage {
    var px = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            var h = UInt32(truncatingIfNeeded: (x &* 73_856_093) ^ (y &* 19_349_663) ^ (seed &* 83_492_791))
            h = (h ^ (h >> 13)) &* 0x5bd1_e995
            let noise = Int(h >> 28) - 8
            let i = (y * width + x) * 3
            px[i] = UInt8(clamping: x * 255 / max(width - 1, 1) + noise)
            px[i + 1] = UInt8(clamping: y * 255 / max(height - 1, 1) - noise)
            px[i + 2] = (x / 5 + y / 3) % 2 == 0 ? UInt8(clamping: 200 + noise) : UInt8(clamping: 40 + noise)
        }
    }
    return try! RGBImage(width: width, height: height, pixels: px)
}
