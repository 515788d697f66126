/// ISO BMFF (MP4) boxes for one H.264 video track, laid out for progressive playback
/// ("faststart"): ftyp, moov (with the sample tables), then mdat. Every sample is a sync sample.
enum MP4Muxer {
    /// Movie timescale (mvhd/tkhd durations in milliseconds).
    static let movieTimescale = 1000
    /// Media timescale per frame: the track's timescale is fps · 1000, each sample lasting 1000 ticks.
    static let ticksPerFrame = 1000

    /// ftyp + moov + the mdat box header; the caller appends the samples' bytes in order after it.
    static func header(stream: H264Stream, sps: [UInt8], pps: [UInt8], sampleSizes: [Int]) -> [UInt8] {
        let payload = sampleSizes.reduce(0, +)
        let ftyp = box("ftyp", fourCC("isom") + be32(0x200) + fourCC("isom") + fourCC("iso2") + fourCC("avc1") + fourCC("mp41"))
        let mdatHeaderSize = payload + 8 > Int(UInt32.max) ? 16 : 8
        // The moov's size does not depend on the chunk offset's value; build once to learn it.
        let draft = moov(stream: stream, sps: sps, pps: pps, sizes: sampleSizes, chunkOffset: 0, largeFile: false)
        let offset = ftyp.count + draft.count + mdatHeaderSize
        let large = offset + payload > Int(UInt32.max)
        let final = moov(stream: stream, sps: sps, pps: pps, sizes: sampleSizes,
                         chunkOffset: offset + (large ? 4 : 0), largeFile: large)  // co64 is 4 bytes longer
        var out = ftyp + final
        if mdatHeaderSize == 16 {
            out += be32(1) + fourCC("mdat") + be64(payload + 16)
        } else {
            out += be32(payload + 8) + fourCC("mdat")
        }
        return out
    }

    private static func moov(stream s: H264Stream, sps: [UInt8], pps: [UInt8], sizes: [Int],
                             chunkOffset: Int, largeFile: Bool) -> [UInt8] {
        let n = sizes.count
        let mediaTimescale = s.fps * ticksPerFrame
        let mediaDuration = n * ticksPerFrame
        let movieDuration = (n * movieTimescale + s.fps / 2) / s.fps
        let identity: [UInt8] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000].flatMap { be32($0) }

        let mvhd = fullBox("mvhd", 0, 0, be32(0) + be32(0) + be32(movieTimescale) + be32(movieDuration)
            + be32(0x10000) + be16(0x100) + zeros(10) + identity + zeros(24) + be32(2))
        let tkhd = fullBox("tkhd", 0, 3, be32(0) + be32(0) + be32(1) + be32(0) + be32(movieDuration)
            + zeros(8) + be16(0) + be16(0) + be16(0) + be16(0) + identity + be32(s.width << 16) + be32(s.height << 16))
        let mdhd = fullBox("mdhd", 0, 0, be32(0) + be32(0) + be32(mediaTimescale) + be32(mediaDuration)
            + be16(0x55C4) + be16(0))  // language "und"
        let hdlr = fullBox("hdlr", 0, 0, be32(0) + fourCC("vide") + zeros(12) + Array("VideoHandler".utf8) + [0])
        let vmhd = fullBox("vmhd", 0, 1, zeros(8))
        let dinf = box("dinf", fullBox("dref", 0, 0, be32(1) + fullBox("url ", 0, 1, [])))

        let avcC = box("avcC", [1, UInt8(H264Stream.profileIDC), UInt8(H264Stream.constraintFlags), UInt8(s.level.idc),
                                0xFF,  // 6 reserved bits + lengthSizeMinusOne = 3
                                0xE1]  // 3 reserved bits + one SPS
                       + be16(sps.count) + sps + [1] + be16(pps.count) + pps)
        let colr = box("colr", fourCC("nclx") + be16(1) + be16(1) + be16(1) + [0])  // BT.709, limited range
        let pasp = box("pasp", be32(1) + be32(1))
        var compressor = [UInt8](repeating: 0, count: 32)
        let name = Array("TurboDiffusion I_PCM".utf8)
        compressor[0] = UInt8(name.count)
        compressor.replaceSubrange(1...name.count, with: name)
        let avc1 = box("avc1", zeros(6) + be16(1) + zeros(16) + be16(s.width) + be16(s.height)
            + be32(0x0048_0000) + be32(0x0048_0000) + be32(0) + be16(1) + compressor + be16(0x18) + be16(0xFFFF)
            + avcC + colr + pasp)
        let stsd = fullBox("stsd", 0, 0, be32(1) + avc1)
        let stts = fullBox("stts", 0, 0, be32(1) + be32(n) + be32(ticksPerFrame))
        let stss = fullBox("stss", 0, 0, be32(n) + (1...max(n, 1)).prefix(n).flatMap { be32($0) })
        let stsc = fullBox("stsc", 0, 0, be32(1) + be32(1) + be32(n) + be32(1))  // one chunk holds every sample
        let stsz = fullBox("stsz", 0, 0, be32(0) + be32(n) + sizes.flatMap { be32($0) })
        let stco = largeFile ? fullBox("co64", 0, 0, be32(1) + be64(chunkOffset))
                             : fullBox("stco", 0, 0, be32(1) + be32(chunkOffset))
        let stbl = box("stbl", stsd + stts + stss + stsc + stsz + stco)
        let minf = box("minf", vmhd + dinf + stbl)
        let mdia = box("mdia", mdhd + hdlr + minf)
        let trak = box("trak", tkhd + mdia)
        return box("moov", mvhd + trak)
    }

    static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] { be32(payload.count + 8) + fourCC(type) + payload }
    static func fullBox(_ type: String, _ version: Int, _ flags: Int, _ payload: [UInt8]) -> [UInt8] {
        box(type, [UInt8(version)] + Array(be32(flags).dropFirst()) + payload)
    }
    static func fourCC(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func zeros(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: n) }
    static func be16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func be32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    static func be64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }
}
