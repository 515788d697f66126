import Foundation
import Testing
@testable import Media

@Suite struct ImageDecodingTests {
    static let decodable = Fixtures.images

    @Test func fixturesArePresent() {
        #expect(Self.decodable.count >= 55)
        #expect(Self.decodable.contains { $0.name == "jpeg/prog420_rst" })
    }

    /// Every PNG equals its samples; every JPEG equals PIL's (libjpeg-turbo) decode byte for byte.
    @Test(arguments: decodable)
    func decodesExactly(_ c: Fixtures.ImageCase) throws {
        let image = try ImageDecoder.decode(path: Fixtures.path(c.file))
        #expect(image.width == c.width && image.height == c.height, "\(c.name) size")
        let (maxDiff, differing) = compare(image.pixels, try Fixtures.bytes(c.expected))
        #expect(differing == 0, "\(c.name): \(differing) bytes differ, max difference \(maxDiff)")
    }

    @Test(arguments: decodable.filter { $0.overBlack != nil })
    func alphaCompositing(_ c: Fixtures.ImageCase) throws {
        let black = try ImageDecoder.decode(path: Fixtures.path(c.file), options: .init(alpha: .overBlack))
        let white = try ImageDecoder.decode(path: Fixtures.path(c.file), options: .init(alpha: .overWhite))
        #expect(compare(black.pixels, try Fixtures.bytes(c.overBlack!)).differing == 0, "\(c.name) over black")
        #expect(compare(white.pixels, try Fixtures.bytes(c.overWhite!)).differing == 0, "\(c.name) over white")
    }

    @Test func exifOrientationCanBeIgnored() throws {
        for o in [1, 6, 8] {
            let raw = try ImageDecoder.decode(path: Fixtures.path("jpeg/exif\(o).jpg"),
                                              options: .init(applyEXIFOrientation: false))
            #expect(raw.width == 11 && raw.height == 7)
            // The stored pixels are the same for every orientation file; only the tag differs.
            let one = try ImageDecoder.decode(path: Fixtures.path("jpeg/exif1.jpg"))
            #expect(raw == one)
        }
        let png = try ImageDecoder.decode(path: Fixtures.path("png/rgb8_exif6.png"), options: .init(applyEXIFOrientation: false))
        #expect(png.width == 19 && png.height == 13)
    }

    @Test func formatIsRecognisedByContent() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("picture.png").path
        try Data(try Fixtures.bytes("jpeg/base420.jpg")).write(to: URL(fileURLWithPath: path))
        let a = try ImageDecoder.decode(path: path)
        #expect(a == (try ImageDecoder.decode(path: Fixtures.path("jpeg/base420.jpg"))))
    }

    // MARK: refusals and damage

    private func expectError(_ bytes: [UInt8], name: String = "probe", _ check: (MediaError) -> Bool,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ImageDecoder.decode(bytes: bytes, name: name)
            Issue.record("decoding \(name) succeeded", sourceLocation: sourceLocation)
        } catch let e as MediaError {
            #expect(check(e), "unexpected error: \(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(name), "message does not name the file: \(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        }
    }

    private func isUnsupported(_ e: MediaError, _ word: String) -> Bool {
        if case .unsupported(_, let r) = e { return r.contains(word) }
        return false
    }

    private func isMalformed(_ e: MediaError, _ word: String) -> Bool {
        if case .malformed(_, let r) = e { return r.contains(word) }
        return false
    }

    @Test func unsupportedJPEGsAreRefusedByName() throws {
        expectError(try Fixtures.bytes("jpeg/refuse_arithmetic.jpg"), name: "a.jpg") { isUnsupported($0, "arithmetic") }
        expectError(try Fixtures.bytes("jpeg/refuse_cmyk.jpg"), name: "c.jpg") { isUnsupported($0, "CMYK") }
        // 12-bit precision: patch the SOF0 precision byte.
        var b = try Fixtures.bytes("jpeg/base420.jpg")
        let sof = (0..<(b.count - 1)).first { b[$0] == 0xFF && b[$0 + 1] == 0xC0 }!
        b[sof + 4] = 12
        expectError(b, name: "twelve.jpg") { isUnsupported($0, "12-bit") }
        b[sof + 4] = 8
        b[sof + 1] = 0xC3
        expectError(b, name: "lossless.jpg") { isUnsupported($0, "lossless") }
    }

    @Test func truncatedFilesAreReported() throws {
        for name in ["jpeg/base420.jpg", "jpeg/prog420.jpg", "jpeg/base420_rst.jpg", "png/rgb8.png", "png/p4_i.png"] {
            let full = try Fixtures.bytes(name)
            for fraction in [0.3, 0.6, 0.9] {
                let cut = Array(full[0..<Int(Double(full.count) * fraction)])
                expectError(cut, name: name) { isMalformed($0, "truncated") || isMalformed($0, "ends") }
            }
        }
        expectError([0xFF, 0xD8, 0xFF], name: "soi-only.jpg") { isMalformed($0, "truncated") }
    }

    @Test func jpegWithoutEOIStillDecodesWhenComplete() throws {
        let full = try Fixtures.bytes("jpeg/base420.jpg")
        let image = try ImageDecoder.decode(bytes: Array(full.dropLast(2)), name: "noeoi.jpg")
        #expect(image == (try ImageDecoder.decode(bytes: full)))
        // A progressive file without EOI may lack refinement scans: refused.
        let prog = try Fixtures.bytes("jpeg/prog420.jpg")
        expectError(Array(prog.dropLast(2)), name: "prog-noeoi.jpg") { isMalformed($0, "truncated") }
    }

    @Test func damagedPNGs() throws {
        let png = try Fixtures.bytes("png/rgb8.png")
        var badCRC = png
        badCRC[29] ^= 0x40  // inside IHDR's CRC
        expectError(badCRC, name: "crc.png") { isMalformed($0, "CRC") }
        // Flip a byte of compressed data and fix the chunk CRC: the zlib checksum or the data catch it.
        var badData = png
        let idat = (0..<(png.count - 4)).first { Array(png[$0..<($0 + 4)]) == Array("IDAT".utf8) }!
        let len = Int(PNGDecoder.be32(png, idat - 4))
        badData[idat + 4 + len / 2] ^= 0xFF
        let crc = CRC32.checksum(badData[idat..<(idat + 4 + len)])
        for k in 0..<4 { badData[idat + 4 + len + k] = UInt8(truncatingIfNeeded: crc >> UInt32(24 - 8 * k)) }
        expectError(badData, name: "data.png") { if case .malformed = $0 { true } else { false } }
        expectError(Array(png[0..<20]), name: "short.png") { isMalformed($0, "ends") }
    }

    @Test func foreignAndMissingFiles() throws {
        expectError(Array("GIF89a....".utf8), name: "x.gif") { isUnsupported($0, "GIF") }
        expectError([], name: "empty.png") { isMalformed($0, "empty") }
        expectError(Array("hello world".utf8), name: "notes.txt") { isUnsupported($0, "not a recognised") }
        #expect(throws: MediaError.unreadable(path: "/nonexistent/x.png", reason: "no such file")) {
            try ImageDecoder.decode(path: "/nonexistent/x.png")
        }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: MediaError.unreadable(path: dir.path, reason: "it is a directory")) {
            try ImageDecoder.decode(path: dir.path)
        }
    }
}
