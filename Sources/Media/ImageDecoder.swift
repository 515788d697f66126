#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Reads PNG and JPEG files (recognised by content, not by extension) into RGB8 images.
public enum ImageDecoder {
    public struct Options: Sendable {
        /// How transparency is removed. Default `.discard` (what PIL's `convert("RGB")` gives).
        public var alpha: AlphaHandling = .discard
        /// Rotate/flip as the EXIF orientation tag says (JPEG APP1, PNG eXIf). Default true.
        /// The upstream I2V script does not do this (PIL's `Image.open` ignores the tag).
        public var applyEXIFOrientation = true
        public init(alpha: AlphaHandling = .discard, applyEXIFOrientation: Bool = true) {
            self.alpha = alpha
            self.applyEXIFOrientation = applyEXIFOrientation
        }
    }

    public static func decode(path: String, options: Options = Options()) throws -> RGBImage {
        var isDir = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw MediaError.unreadable(path: path, reason: "no such file")
        }
        guard !isDir else { throw MediaError.unreadable(path: path, reason: "it is a directory") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw MediaError.unreadable(path: path, reason: "\(error)")
        }
        return try decode(bytes: [UInt8](data), name: path, options: options)
    }

    /// Decodes in-memory file bytes; `name` is used in error messages.
    public static func decode(bytes: [UInt8], name: String = "<memory>", options: Options = Options()) throws -> RGBImage {
        do {
            switch Format.sniff(bytes) {
            case .png:
                let image = try PNGDecoder.decode(bytes, alpha: options.alpha)
                if options.applyEXIFOrientation, let o = pngOrientation(bytes) { return EXIF.apply(orientation: o, to: image) }
                return image
            case .jpeg:
                return try JPEGDecoder.decode(bytes, applyOrientation: options.applyEXIFOrientation)
            case .other(let what):
                if bytes.isEmpty { throw MediaError.malformed(path: name, reason: "the file is empty") }
                throw MediaError.unsupported(path: name, reason: "\(what); PNG and JPEG are supported")
            }
        } catch let f as DecodeFailure {
            throw f.error(path: name)
        }
    }

    enum Format {
        case png, jpeg, other(String)
        static func sniff(_ b: [UInt8]) -> Format {
            if b.starts(with: PNGDecoder.signature) { return .png }
            if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
            if b.starts(with: Array("GIF8".utf8)) { return .other("GIF image") }
            if b.starts(with: Array("BM".utf8)) { return .other("BMP image") }
            if b.count >= 12 && b.starts(with: Array("RIFF".utf8)) && Array(b[8..<12]) == Array("WEBP".utf8) {
                return .other("WebP image")
            }
            if b.count >= 12 && Array(b[4..<8]) == Array("ftyp".utf8) { return .other("ISO media file (HEIC/AVIF/MP4)") }
            if b.starts(with: [0x49, 0x49, 0x2A, 0]) || b.starts(with: [0x4D, 0x4D, 0, 0x2A]) { return .other("TIFF image") }
            return .other("not a recognised image format")
        }
    }

    /// The EXIF orientation of a PNG's eXIf chunk, if any (a scan of the chunk list; eXIf may follow IDAT).
    private static func pngOrientation(_ b: [UInt8]) -> Int? {
        var pos = 8
        while pos + 8 <= b.count {
            let length = Int(PNGDecoder.be32(b, pos))
            guard pos + 12 + length <= b.count else { return nil }
            if b[pos + 4] == 0x65, b[pos + 5] == 0x58, b[pos + 6] == 0x49, b[pos + 7] == 0x66 {  // "eXIf"
                return EXIF.orientation(tiff: Array(b[(pos + 8)..<(pos + 8 + length)]))
            }
            pos += 12 + length
        }
        return nil
    }
}
