import Foundation
import Media
import Testing
@testable import TurboDiffusionServer

@Suite struct OutputsTests {
    @Test func namesAreStrict() {
        for good in ["t2v_1_demo_0123456789abcdef.mp4", "a.mp4", "A-b_c.1.mp4"] { #expect(Outputs.isValidName(good), "\(good)") }
        for bad in ["../x.mp4", "..mp4", ".hidden.mp4", "a/b.mp4", "a\\b.mp4", "x.mov", ".mp4", "a..b.mp4", "%2e%2e.mp4",
                    "a b.mp4", "é.mp4", "a.mp4\0", "", String(repeating: "a", count: 300) + ".mp4", "/etc/passwd"] {
            #expect(!Outputs.isValidName(bad), "\(bad)")
        }
    }

    @Test func listsNewestFirstWithoutLinksOrTemporaries() throws {
        let dir = try temporaryDirectory()
        let outputs = try Outputs(directory: dir)
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/old.mp4"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -100)], ofItemAtPath: dir + "/old.mp4")
        try Data("new".utf8).write(to: URL(fileURLWithPath: dir + "/new.mp4"))
        try Data("tmp".utf8).write(to: URL(fileURLWithPath: dir + "/.new2.mp4.tmp-1-2"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: dir + "/../secret-\(UUID().uuidString).txt"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.mp4", withDestinationPath: "/etc/passwd")
        try FileManager.default.createDirectory(atPath: dir + "/folder.mp4", withIntermediateDirectories: true)
        #expect(outputs.list().map(\.name) == ["new.mp4", "old.mp4"])
        #expect(throws: APIError.self) { try outputs.open("link.mp4") }
        #expect(throws: APIError.self) { try outputs.open("folder.mp4") }
        #expect(throws: APIError.self) { try outputs.delete("link.mp4") }
        #expect(FileManager.default.fileExists(atPath: "/etc/passwd"))
        let (fd, size) = try outputs.open("new.mp4")
        close(fd)
        #expect(size == 3)
        #expect(outputs.removeStaleTemporaries() == 1)
        try outputs.delete("old.mp4")
        #expect(outputs.list().map(\.name) == ["new.mp4"])
        #expect(throws: APIError.self) { try outputs.delete("old.mp4") }
    }

    @Test func byteRanges() {
        #expect(ByteRange.parse(nil, size: 100) == .whole)
        #expect(ByteRange.parse("bytes=0-9", size: 100) == .range(0 ... 9))
        #expect(ByteRange.parse("bytes=90-", size: 100) == .range(90 ... 99))
        #expect(ByteRange.parse("bytes=50-500", size: 100) == .range(50 ... 99))
        #expect(ByteRange.parse("bytes=-10", size: 100) == .range(90 ... 99))
        #expect(ByteRange.parse("bytes=-1000", size: 100) == .range(0 ... 99))
        #expect(ByteRange.parse("bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=9-3", size: 100) == .whole)
        #expect(ByteRange.parse("bytes=0-1,5-6", size: 100) == .whole)
        #expect(ByteRange.parse("items=0-1", size: 100) == .whole)
        #expect(ByteRange.parse("bytes=abc", size: 100) == .whole)
    }
}

@Suite struct UploadsTests {
    func png(_ w: Int, _ h: Int) -> [UInt8] { PNGEncoder.encode(RGBImage(width: w, height: h)) }

    @Test func acceptsDecodableImagesOnly() throws {
        let uploads = try Uploads(directory: try temporaryDirectory(), maxBytes: 1 << 20, maxPixels: 512 * 512)
        let stored = try uploads.store(png(40, 24))
        #expect(stored.width == 40 && stored.height == 24 && stored.format == "png" && Uploads.isValidID(stored.id))
        #expect(try uploads.image(stored.id).width == 40)
        func refused(_ bytes: [UInt8], _ status: Int) {
            do { _ = try uploads.store(bytes); Issue.record("accepted") } catch let e as APIError {
                #expect(e.status.code == status && e.field == "image", "\(e)")
            } catch { Issue.record("\(error)") }
        }
        refused([], 400)
        refused(Array("GIF89a....".utf8), 415)
        var corrupt = png(40, 24)
        corrupt.replaceSubrange(40 ..< corrupt.count, with: [UInt8](repeating: 0x5A, count: corrupt.count - 40))
        refused(corrupt, 400)
        refused(Array(png(40, 24).prefix(30)), 400)
        refused(png(600, 600), 400)                                  // too many pixels
        refused(png(40, 24) + [UInt8](repeating: 0, count: 1 << 20), 413)
        refused([0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2], 400)            // a JPEG that ends at once
        #expect(throws: APIError.self) { try uploads.image("u0000000000000000") }
        #expect(throws: APIError.self) { try uploads.image("../jobs") }
    }

    @Test func multipartBodies() throws {
        let image = png(8, 8)
        let boundary = "----td\(UUID().uuidString)"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += image + Array("\r\n--\(boundary)--\r\n".utf8)
        #expect(try Uploads.multipartFile(body, contentType: "multipart/form-data; boundary=\(boundary)") == image)
        #expect(throws: APIError.self) { try Uploads.multipartFile(body, contentType: "multipart/form-data") }
        #expect(throws: APIError.self) { try Uploads.multipartFile(Array("junk".utf8), contentType: "multipart/form-data; boundary=x") }
    }
}

@Suite struct JobStoreTests {
    @Test func interruptedJobsAreFailedOnReload() throws {
        let path = try temporaryDirectory() + "/state/jobs.json"
        let store = try JobStore(path: path)
        var a = JobRecord(id: JobRecord.newID(), request: JobRequest())
        a.status = .running
        a.startedAt = Date()
        let b = JobRecord(id: JobRecord.newID(), request: JobRequest())
        var c = JobRecord(id: JobRecord.newID(), request: JobRequest())
        c.status = .succeeded
        for r in [a, b, c] { try store.insert(r) }
        let reloaded = try JobStore(path: path)
        #expect(reloaded.get(a.id)?.status == .failed && reloaded.get(a.id)?.error == "the server stopped while this job ran")
        #expect(reloaded.get(b.id)?.status == .failed && reloaded.get(b.id)?.error == "the server stopped before this job started")
        #expect(reloaded.get(c.id)?.status == .succeeded)
        #expect(reloaded.all().map(\.id) == [c.id, b.id, a.id])
        // No temporary files are left beside the record file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent) == ["jobs.json"])
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: APIError.self) { try JobStore(path: path) }
    }

    @Test func keepsABoundedHistory() throws {
        let store = try JobStore(path: try temporaryDirectory() + "/jobs.json", keep: 3)
        for _ in 0 ..< 6 {
            var r = JobRecord(id: JobRecord.newID(), request: JobRequest())
            r.status = .succeeded
            try store.insert(r)
        }
        #expect(store.all().count == 3)
    }
}
