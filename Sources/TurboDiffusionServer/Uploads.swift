#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SystemSupport
import Media

/// Images uploaded for I2V. An upload is decoded with the engine's own PNG/JPEG decoders before it
/// is accepted (a file that does not decode is refused), and stored under a random id as the bytes
/// that were sent; jobs decode it again when they run.
public final class Uploads: @unchecked Sendable {
    public let directory: String
    public let maxBytes: Int
    public let maxPixels: Int

    public struct Stored: Codable, Sendable, Equatable {
        public var id: String
        public var width: Int
        public var height: Int
        public var format: String
    }

    public init(directory: String, maxBytes: Int = 20 << 20, maxPixels: Int = 4096 * 4096) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        self.maxPixels = maxPixels
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// "u" and 16 hex digits.
    public static func isValidID(_ s: String) -> Bool {
        s.hasPrefix("u") && JobRecord.isValidID(String(s.dropFirst()))
    }

    /// Checks, decodes and stores an image; the error names what is wrong with it.
    public func store(_ bytes: [UInt8]) throws -> Stored {
        guard !bytes.isEmpty else { throw APIError.invalid("image", "the upload is empty") }
        guard bytes.count <= maxBytes else {
            throw APIError(.contentTooLarge, "image: larger than \(maxBytes >> 20) MiB", field: "image")
        }
        let format: String
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { format = "png" }
        else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { format = "jpeg" }
        else { throw APIError(.unsupportedMediaType, "image: not a PNG or JPEG file", field: "image") }
        // Refuse huge dimensions from the header before decoding allocates for them.
        if let (w, h) = Self.headerSize(bytes, format: format), w * h > maxPixels {
            throw APIError.invalid("image", "\(w)×\(h) pixels is more than \(maxPixels) allowed")
        }
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(bytes: bytes, name: "upload")
        } catch {
            throw APIError.invalid("image", "cannot be decoded: \(error)")
        }
        guard image.width * image.height <= maxPixels else {
            throw APIError.invalid("image", "\(image.width)×\(image.height) pixels is more than \(maxPixels) allowed")
        }
        let id = "u" + JobRecord.newID()
        try AtomicFile.write(Data(bytes), to: path(id))
        return Stored(id: id, width: image.width, height: image.height, format: format)
    }

    public func path(_ id: String) -> String { Path.join(directory, id + ".img") }

    /// The decoded image of an upload.
    public func image(_ id: String) throws -> RGBImage {
        guard Self.isValidID(id), let data = FileManager.default.contents(atPath: path(id)) else {
            throw APIError.invalid("image", "no upload with id '\(id)'")
        }
        return try ImageDecoder.decode(bytes: [UInt8](data), name: "upload \(id)")
    }

    public func exists(_ id: String) -> Bool { Self.isValidID(id) && FileManager.default.fileExists(atPath: path(id)) }

    /// Width and height from a PNG IHDR or a JPEG SOF marker, when the header is readable.
    static func headerSize(_ b: [UInt8], format: String) -> (Int, Int)? {
        func be(_ i: Int, _ n: Int) -> Int { (0 ..< n).reduce(0) { $0 << 8 | Int(b[i + $1]) } }
        if format == "png" {
            guard b.count >= 24 else { return nil }
            return (be(16, 4), be(20, 4))
        }
        var i = 2
        while i + 9 < b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }
            if (0xC0 ... 0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) { return (be(i + 7, 2), be(i + 5, 2)) }
            i += 2 + be(i + 2, 2)
        }
        return nil
    }

    /// The first file part of a multipart/form-data body (field "image" or "file", or else the first part with a filename).
    public static func multipartFile(_ body: [UInt8], contentType: String) throws -> [UInt8] {
        guard let range = contentType.firstRange(of: "boundary=") else {
            throw APIError.invalid("Content-Type", "multipart/form-data without a boundary")
        }
        var boundary = String(contentType[range.upperBound...])
        if let semicolon = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semicolon]) }
        boundary = boundary.trimming(["\"", " "])
        guard !boundary.isEmpty, boundary.utf8.count <= 200 else { throw APIError.invalid("Content-Type", "bad multipart boundary") }
        let delimiter = Array(("--" + boundary).utf8)
        var parts: [(headers: String, body: ArraySlice<UInt8>)] = []
        var cursor = 0
        var starts: [Int] = []
        while let at = find(delimiter, in: body, from: cursor) {
            starts.append(at)
            cursor = at + delimiter.count
        }
        for (a, b) in zip(starts, starts.dropFirst()) {
            var s = a + delimiter.count
            guard s + 2 <= b, body[s] == 13, body[s + 1] == 10 else { continue }
            s += 2
            guard let headerEnd = find([13, 10, 13, 10], in: body, from: s), headerEnd < b else { continue }
            let headers = String(decoding: body[s ..< headerEnd], as: UTF8.self)
            var end = b
            if end >= 2, body[end - 2] == 13, body[end - 1] == 10 { end -= 2 }
            parts.append((headers, body[(headerEnd + 4) ..< max(headerEnd + 4, end)]))
        }
        let named = parts.first { $0.headers.contains("name=\"image\"") || $0.headers.contains("name=\"file\"") }
            ?? parts.first { $0.headers.contains("filename=") }
        guard let part = named else { throw APIError.invalid("image", "the multipart body has no file part (field \"image\")") }
        return Array(part.body)
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        let first = needle[0]
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == first, hay[i ..< i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
