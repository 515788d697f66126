import Foundation
import Testing
@testable import Media

/// A short clip whose frames differ (moving block), with sizes that need cropping (and, when odd, padding).
func clip(width: Int, height: Int, frames: Int) -> [RGBImage] {
    (0..<frames).map { t in
        var im = testImage(width: width, height: height, seed: t)
        for y in 0..<min(4, height) { for x in 0..<min(4, width) {
            let i = (y * width + (x + 2 * t) % width) * 3
            im.pixels[i] = 255; im.pixels[i + 1] = 255; im.pixels[i + 2] = 0
        } }
        return im
    }
}

@Suite struct BuiltinMP4Tests {
    /// Structure checked with our own box/SPS/slice reader: always runs (no ffmpeg needed).
    @Test(arguments: [(40, 24, 5), (13, 11, 3), (64, 48, 2)])
    func structureAndContent(_ size: (Int, Int, Int)) throws {
        let (w, h, n) = size
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("sub/out.mp4").path
        let frames = clip(width: w, height: h, frames: n)
        let result = try VideoWriter.writeMP4(frames, to: path, options: .init(writer: .builtin))
        let (ew, eh) = (w + w % 2, h + h % 2)
        #expect(result.writer == .builtin && result.width == ew && result.height == eh && result.frameCount == n)
        #expect(result.notes.contains { $0.contains("padded") } == (w % 2 == 1 || h % 2 == 1))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.appendingPathComponent("sub").path) == ["out.mp4"])

        let mp4 = MP4Inspector(data: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(result.bytes == mp4.data.count)
        let top = try mp4.boxes(in: 0..<mp4.data.count).map(\.type)
        #expect(top == ["ftyp", "moov", "mdat"], "faststart layout")
        let ftyp = try mp4.find("ftyp")
        #expect(String(decoding: mp4.data[ftyp.payload.prefix(4)], as: UTF8.self) == "isom")

        // Timing: 16 fps → media timescale 16000, 1000 ticks per sample; movie duration in ms.
        let mdhd = try mp4.find("moov/trak/mdia/mdhd").payload.lowerBound
        #expect(mp4.be(mdhd + 12, 4) == 16_000 && mp4.be(mdhd + 16, 4) == n * 1000)
        let mvhd = try mp4.find("moov/mvhd").payload.lowerBound
        #expect(mp4.be(mvhd + 12, 4) == 1000 && mp4.be(mvhd + 16, 4) == (n * 1000 + 8) / 16)
        let stts = try mp4.find("moov/trak/mdia/minf/stbl/stts").payload.lowerBound
        #expect(mp4.be(stts + 4, 4) == 1 && mp4.be(stts + 8, 4) == n && mp4.be(stts + 12, 4) == 1000)
        let tkhd = try mp4.find("moov/trak/tkhd").payload
        #expect(mp4.be(tkhd.upperBound - 8, 4) == ew << 16 && mp4.be(tkhd.upperBound - 4, 4) == eh << 16)
        let hdlr = try mp4.find("moov/trak/mdia/hdlr").payload.lowerBound
        #expect(String(decoding: mp4.data[(hdlr + 8)..<(hdlr + 12)], as: UTF8.self) == "vide")

        // Sample table: n samples, all sync, one chunk starting right after the mdat header.
        let stsz = try mp4.find("moov/trak/mdia/minf/stbl/stsz").payload.lowerBound
        #expect(mp4.be(stsz + 4, 4) == 0 && mp4.be(stsz + 8, 4) == n)
        let sizes = (0..<n).map { mp4.be(stsz + 12 + 4 * $0, 4) }
        let mdat = try mp4.find("mdat")
        #expect(sizes.reduce(0, +) == mdat.size - mdat.headerSize)
        let stco = try mp4.find("moov/trak/mdia/minf/stbl/stco").payload.lowerBound
        #expect(mp4.be(stco + 4, 4) == 1 && mp4.be(stco + 8, 4) == mdat.payload.lowerBound)
        let stss = try mp4.find("moov/trak/mdia/minf/stbl/stss").payload.lowerBound
        #expect(mp4.be(stss + 4, 4) == n && (0..<n).allSatisfy { mp4.be(stss + 8 + 4 * $0, 4) == $0 + 1 })
        let stsc = try mp4.find("moov/trak/mdia/minf/stbl/stsc").payload.lowerBound
        #expect(mp4.be(stsc + 4, 4) == 1 && mp4.be(stsc + 12, 4) == n)

        // Sample entry, avcC and its SPS.
        let stsd = try mp4.find("moov/trak/mdia/minf/stbl/stsd")
        let avc1 = try mp4.boxes(in: (stsd.payload.lowerBound + 8)..<stsd.payload.upperBound)[0]
        #expect(avc1.type == "avc1")
        let entry = avc1.payload.lowerBound
        #expect(mp4.be(entry + 24, 2) == ew && mp4.be(entry + 26, 2) == eh)
        let children = try mp4.boxes(in: (entry + 78)..<avc1.payload.upperBound)
        #expect(children.map(\.type).contains("avcC") && children.map(\.type).contains("colr"))
        let avcC = children.first { $0.type == "avcC" }!.payload.lowerBound
        #expect(mp4.data[avcC] == 1 && mp4.data[avcC + 1] == 66 && mp4.data[avcC + 2] == 0xC0)
        #expect(mp4.data[avcC + 4] == 0xFF && mp4.data[avcC + 5] == 0xE1)
        let spsLen = mp4.be(avcC + 6, 2)
        let sps = ParsedSPS(nal: mp4.data[(avcC + 8)..<(avcC + 8 + spsLen)])
        #expect(sps.profile == 66 && sps.constraints == 0xC0 && sps.level == Int(mp4.data[avcC + 3]))
        #expect(sps.width == ew && sps.height == eh, "SPS cropping gives \(sps.width)x\(sps.height)")
        #expect(sps.timeScale == 32 && sps.unitsInTick == 1 && sps.fixedRate)
        #expect(sps.matrix == 1 && !sps.fullRange && sps.maxReorder == 0 && sps.pocType == 2)
        let ppsAt = avcC + 8 + spsLen
        #expect(mp4.data[ppsAt] == 1 && mp4.data[ppsAt + 3] & 0x1F == 8)

        // Every sample: one length-prefixed IDR NAL whose I_PCM samples are our Y'CbCr frame, exactly.
        var offset = mdat.payload.lowerBound
        let (wmb, hmb) = ((ew + 15) / 16, (eh + 15) / 16)
        for (i, size) in sizes.enumerated() {
            let nalLen = mp4.be(offset, 4)
            #expect(nalLen == size - 4)
            let planes = try decodePCMSlice(mp4.data[(offset + 4)..<(offset + size)], widthMBs: wmb, heightMBs: hmb)
            let expected = YUV420Frame(VideoWriter.padToEven(frames[i]))
            for yy in 0..<eh { #expect(Array(planes.y[(yy * wmb * 16)..<(yy * wmb * 16 + ew)]) == Array(expected.y[(yy * ew)..<(yy * ew + ew)])) }
            for yy in 0..<(eh / 2) {
                let a = yy * wmb * 8, b = yy * ew / 2
                #expect(Array(planes.cb[a..<(a + ew / 2)]) == Array(expected.cb[b..<(b + ew / 2)]))
                #expect(Array(planes.cr[a..<(a + ew / 2)]) == Array(expected.cr[b..<(b + ew / 2)]))
            }
            offset += size
        }
    }

    @Test func colourConversionRoundTrips() {
        // Limited-range BT.709 4:2:0 then back: flat 2×2 blocks survive within rounding.
        var flat = RGBImage(width: 8, height: 8)
        for i in 0..<64 { let v = UInt8((i / 2 % 4) * 60 + 10); flat.pixels[3 * i] = v; flat.pixels[3 * i + 1] = 255 - v; flat.pixels[3 * i + 2] = v / 2 }
        for y in stride(from: 0, to: 8, by: 2) { for x in stride(from: 0, to: 8, by: 2) {
            let p = flat[x, y]
            for (dx, dy) in [(1, 0), (0, 1), (1, 1)] { let i = ((y + dy) * 8 + x + dx) * 3; flat.pixels[i] = p.r; flat.pixels[i + 1] = p.g; flat.pixels[i + 2] = p.b }
        } }
        let back = YUV420Frame(flat).toRGB()
        #expect(compare(back.pixels, flat.pixels).maxDiff <= 2)
        let gray = YUV420Frame(try! RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 128, count: 12)))
        #expect(gray.cb == [128] && gray.cr == [128])
        let white = YUV420Frame(try! RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 255, count: 12)))
        #expect(white.y == [235, 235, 235, 235])
    }

    @Test func levelAndCodecString() {
        #expect(H264Stream(width: 832, height: 480, fps: 16).level.idc == 50)
        #expect(H264Stream(width: 1280, height: 720, fps: 16).level.idc == 51)
        #expect(H264Stream(width: 64, height: 48, fps: 16).codecString == "avc1.42C00D")
        #expect(H264Stream(width: 1920, height: 1088, fps: 30).level.withinLimits == false)
    }

    @Test func badArgumentsAndFailuresLeaveNothing() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("v.mp4").path
        #expect(throws: MediaError.self) { try VideoWriter.writeMP4([], to: path) }
        #expect(throws: MediaError.self) {
            try VideoWriter.writeMP4([testImage(width: 8, height: 8), testImage(width: 8, height: 6)], to: path)
        }
        #expect(throws: MediaError.self) { try VideoWriter.writeMP4(clip(width: 8, height: 8, frames: 1), to: path, options: .init(fps: 0)) }
        // A failing "ffmpeg": explicit request → error, nothing written; auto → built-in fallback, noted.
        let fake = tmp.appendingPathComponent("fake-ffmpeg").path
        try "#!/bin/sh\necho 'Unknown encoder libx264' >&2\nexit 1\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        #expect(throws: MediaError.self) {
            try VideoWriter.writeMP4(clip(width: 8, height: 8, frames: 2), to: path, options: .init(writer: .ffmpeg, ffmpegPath: fake))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["fake-ffmpeg"])
        let r = try VideoWriter.writeMP4(clip(width: 8, height: 8, frames: 2), to: path, options: .init(ffmpegPath: fake))
        #expect(r.writer == .builtin && r.notes.contains { $0.contains("Unknown encoder libx264") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["fake-ffmpeg", "v.mp4"])
        // An "ffmpeg" that exits 0 after writing a cut-short file (as on a full disk): an error, nothing
        // under the final name, no temporary file left.
        let truncating = tmp.appendingPathComponent("truncating-ffmpeg").path
        try """
            #!/bin/sh
            for a; do out=$a; done
            cat > /dev/null
            printf '\\000\\000\\000\\020ftypisom\\000\\000\\002\\000\\000\\000\\020\\000moov' > "$out"
            exit 0

            """.write(toFile: truncating, atomically: true, encoding: .utf8)
        chmod(truncating, 0o755)
        let cut = tmp.appendingPathComponent("cut.mp4").path
        #expect {
            try VideoWriter.writeMP4(clip(width: 8, height: 8, frames: 2), to: cut, options: .init(writer: .ffmpeg, ffmpegPath: truncating))
        } throws: { error in "\(error)".contains("not a complete MP4") && "\(error)".contains("moov") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["fake-ffmpeg", "truncating-ffmpeg", "v.mp4"])
        // A path whose parent cannot be created.
        #expect(throws: MediaError.self) { try VideoWriter.writeMP4(clip(width: 8, height: 8, frames: 1), to: "/proc/version/x/v.mp4", options: .init(writer: .builtin)) }
    }

    @Test func resultDescriptionNamesTheWriter() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let r = try VideoWriter.writeMP4(clip(width: 9, height: 8, frames: 1), to: tmp.appendingPathComponent("a.mp4").path,
                                         options: .init(writer: .builtin))
        #expect(r.description.contains("builtin writer") && r.description.contains("10x8"))
        #expect(VideoWriteOptions.crf(imageioQuality: 7) == 15 && VideoWriteOptions.crf(imageioQuality: 10) == 0)
    }
}

/// Independent verification with ffprobe/ffmpeg; skipped when they are not installed (CI may lack them).
@Suite(.enabled(if: findTool("ffprobe") != nil && findTool("ffmpeg") != nil, "ffprobe/ffmpeg not on PATH"))
struct FFmpegVerificationTests {
    let ffprobe = findTool("ffprobe") ?? "", ffmpeg = findTool("ffmpeg") ?? ""

    private func probe(_ path: String) throws -> [String: String] {
        let (status, out) = try runTool(ffprobe, ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
            "stream=codec_name,profile,width,height,pix_fmt,r_frame_rate,nb_read_frames,color_space", "-of", "default=nw=1", path])
        #expect(status == 0)
        var d: [String: String] = [:]
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { d[String(kv[0])] = String(kv[1]) }
        }
        return d
    }

    private func decode(_ path: String, pixFmt: String) throws -> [UInt8] {
        let (status, out) = try runTool(ffmpeg, ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", pixFmt, "-"])
        #expect(status == 0)
        return [UInt8](out)
    }

    @Test(arguments: [(40, 24, 5), (13, 11, 3)])
    func builtinWriterIsReadByFFmpeg(_ size: (Int, Int, Int)) throws {
        let (w, h, n) = size
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("b.mp4").path
        let frames = clip(width: w, height: h, frames: n).map(VideoWriter.padToEven)
        _ = try VideoWriter.writeMP4(frames, to: path, options: .init(writer: .builtin))
        let p = try probe(path)
        let (ew, eh) = (frames[0].width, frames[0].height)
        #expect(p["codec_name"] == "h264" && p["profile"] == "Constrained Baseline", "\(p)")
        #expect(p["width"] == "\(ew)" && p["height"] == "\(eh)" && p["pix_fmt"] == "yuv420p")
        #expect(p["r_frame_rate"] == "16/1" && p["nb_read_frames"] == "\(n)" && p["color_space"] == "bt709", "\(p)")
        // I_PCM is lossless in Y'CbCr: ffmpeg's decoded planes equal ours byte for byte.
        let yuv = try decode(path, pixFmt: "yuv420p")
        let planes = frames.map { YUV420Frame($0) }.flatMap { $0.y + $0.cb + $0.cr }
        #expect(yuv == planes)
        // And as RGB, within rounding of our own BT.709 round trip (ffmpeg interpolates chroma differently).
        let rgb = try decode(path, pixFmt: "rgb24")
        let ours = frames.flatMap { YUV420Frame($0).toRGB().pixels }
        let d = compare(rgb, ours)
        #expect(rgb.count == ours.count && d.maxDiff <= 40, "max difference \(d.maxDiff)")
        let mean = zip(rgb, ours).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        #expect(Double(mean) / Double(ours.count) < 3)
    }

    @Test func ffmpegWriterPath() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("deep/f.mp4").path
        // Smooth frames: libx264 at crf 10 and swscale's chroma filter then change little, so a wrong
        // colour matrix (BT.601 vs BT.709: ~8 levels in luma) would stand out.
        let frames = (0..<6).map { t in
            try! RGBImage(width: 33, height: 18, pixels: (0..<(33 * 18)).flatMap { i -> [UInt8] in
                let x = i % 33, y = i / 33
                return [UInt8(x * 7 + t * 3), UInt8(y * 13), UInt8(200 - x * 3 - y * 2)]
            })
        }
        let r = try VideoWriter.writeMP4(frames, to: path, options: .init(crf: 10, writer: .ffmpeg))
        #expect(r.writer == .ffmpeg && r.width == 34 && r.height == 18 && r.bytes > 0)
        let p = try probe(path)
        #expect(p["codec_name"] == "h264" && p["width"] == "34" && p["height"] == "18" && p["pix_fmt"] == "yuv420p", "\(p)")
        #expect(p["r_frame_rate"] == "16/1" && p["nb_read_frames"] == "6" && p["color_space"] == "bt709", "\(p)")
        let rgb = try decode(path, pixFmt: "rgb24")
        let src = frames.map(VideoWriter.padToEven).flatMap(\.pixels)
        #expect(rgb.count == src.count)
        // Compare with our own 4:2:0 round trip of the same frames: what is left is libx264's loss and
        // chroma interpolation, small at crf 10 (a BT.601/BT.709 mix-up would show as a large colour shift).
        let ours = frames.map { YUV420Frame(VideoWriter.padToEven($0)).toRGB() }.flatMap(\.pixels)
        let mean = Double(zip(rgb, ours).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(src.count)
        let raw = Double(zip(rgb, src).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(src.count)
        #expect(mean < 2.5, "mean absolute error \(mean) against our 4:2:0 round trip (\(raw) against the source)")
        // moov before mdat (+faststart)
        let mp4 = MP4Inspector(data: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        let types = try mp4.boxes(in: 0..<mp4.data.count).map(\.type)
        #expect(types.firstIndex(of: "moov")! < types.firstIndex(of: "mdat")!)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.appendingPathComponent("deep").path) == ["f.mp4"])
    }

    @Test func pngFramesAreReadByFFmpeg() throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let image = testImage(width: 37, height: 21, seed: 5)
        try PNGEncoder.write(image, to: tmp.appendingPathComponent("f.png").path)
        let rgb = try decode(tmp.appendingPathComponent("f.png").path, pixFmt: "rgb24")
        #expect(rgb == image.pixels)
    }
}
