import Foundation
@testable import Media

/// An independent reader for what the built-in writer produces: MP4 boxes, the SPS, and I_PCM slices.
/// Written from the specifications (ISO 14496-12/15, H.264 §7.3), sharing no code with the writer.
struct MP4Inspector {
    struct Box { let type: String; let start: Int; let size: Int; let headerSize: Int
        var payload: Range<Int> { (start + headerSize)..<(start + size) } }

    let data: [UInt8]

    func be(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 << 8 | Int(data[at + $1]) } }

    func boxes(in range: Range<Int>) throws -> [Box] {
        var out: [Box] = [], p = range.lowerBound
        while p < range.upperBound {
            guard p + 8 <= range.upperBound else { throw Failure("box header past the end at \(p)") }
            var size = be(p, 4), header = 8
            if size == 1 { size = be(p + 8, 8); header = 16 }
            let type = String(decoding: data[(p + 4)..<(p + 8)], as: UTF8.self)
            guard size >= header, p + size <= range.upperBound else { throw Failure("box \(type) size \(size) overruns") }
            out.append(Box(type: type, start: p, size: size, headerSize: header))
            p += size
        }
        return out
    }

    /// The box at a path like "moov/trak/mdia/minf/stbl/stsz" (first match at each level).
    func find(_ path: String) throws -> Box {
        var range = 0..<data.count
        var found: Box?
        for name in path.split(separator: "/") {
            guard let b = try boxes(in: range).first(where: { $0.type == name }) else { throw Failure("no box \(path)") }
            found = b
            range = b.payload
        }
        return found!
    }

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }
}

/// Reads RBSP bits (emulation prevention removed) MSB first, with Exp-Golomb.
struct RBSPReader {
    var bits: [UInt8]  // RBSP bytes
    var pos = 0
    init(nal: ArraySlice<UInt8>) {
        var out: [UInt8] = [], zeros = 0
        for b in nal {
            if zeros >= 2 && b == 3 { zeros = 0; continue }
            out.append(b)
            zeros = b == 0 ? zeros + 1 : 0
        }
        bits = out
    }
    mutating func u(_ n: Int) -> Int {
        var v = 0
        for _ in 0..<n { v = v << 1 | Int(bits[pos >> 3] >> UInt8(7 - pos & 7)) & 1; pos += 1 }
        return v
    }
    mutating func ue() -> Int { var z = 0; while u(1) == 0 { z += 1 }; return (1 << z) - 1 + u(z) }
    mutating func se() -> Int { let k = ue(); return k % 2 == 1 ? (k + 1) / 2 : -(k / 2) }
    mutating func align() { pos = (pos + 7) & ~7 }
}

struct ParsedSPS {
    var profile = 0, constraints = 0, level = 0
    var width = 0, height = 0
    var timeScale = 0, unitsInTick = 0, fixedRate = false
    var matrix = 0, fullRange = true, maxReorder = -1, log2MaxFrameNum = 0, pocType = -1

    init(nal: ArraySlice<UInt8>) {
        var r = RBSPReader(nal: nal.dropFirst())
        profile = r.u(8); constraints = r.u(8); level = r.u(8)
        _ = r.ue()
        log2MaxFrameNum = r.ue() + 4
        pocType = r.ue()
        _ = r.ue(); _ = r.u(1)
        let wmb = r.ue() + 1, hmb = r.ue() + 1
        _ = r.u(1); _ = r.u(1)  // frame_mbs_only (writer sets 1), direct_8x8
        var crop = (0, 0, 0, 0)
        if r.u(1) == 1 { crop = (r.ue(), r.ue(), r.ue(), r.ue()) }
        width = wmb * 16 - 2 * (crop.0 + crop.1)
        height = hmb * 16 - 2 * (crop.2 + crop.3)
        guard r.u(1) == 1 else { return }  // VUI
        if r.u(1) == 1 { if r.u(8) == 255 { _ = r.u(32) } }
        if r.u(1) == 1 { _ = r.u(1) }
        if r.u(1) == 1 { _ = r.u(3); fullRange = r.u(1) == 1; if r.u(1) == 1 { _ = r.u(8); _ = r.u(8); matrix = r.u(8) } }
        if r.u(1) == 1 { _ = r.ue(); _ = r.ue() }
        if r.u(1) == 1 { unitsInTick = r.u(32); timeScale = r.u(32); fixedRate = r.u(1) == 1 }
        _ = r.u(1); _ = r.u(1); _ = r.u(1)  // no HRD, pic_struct
        if r.u(1) == 1 { _ = r.u(1); _ = r.ue(); _ = r.ue(); _ = r.ue(); _ = r.ue(); maxReorder = r.ue(); _ = r.ue() }
    }
}

/// Decodes an IDR slice made only of I_PCM macroblocks into Y, Cb, Cr planes of the coded size.
func decodePCMSlice(_ nal: ArraySlice<UInt8>, widthMBs: Int, heightMBs: Int) throws -> (y: [UInt8], cb: [UInt8], cr: [UInt8]) {
    guard let header = nal.first, header & 0x1F == 5 else { throw MP4Inspector.Failure("not an IDR NAL unit") }
    var r = RBSPReader(nal: nal.dropFirst())
    guard r.ue() == 0 else { throw MP4Inspector.Failure("first_mb_in_slice != 0") }
    guard [2, 7].contains(r.ue()) else { throw MP4Inspector.Failure("not an I slice") }
    _ = r.ue(); _ = r.u(4); _ = r.ue()  // pps id, frame_num, idr_pic_id
    _ = r.u(1); _ = r.u(1)  // dec_ref_pic_marking
    _ = r.se()
    _ = r.ue()  // disable_deblocking_filter_idc (1: no alpha/beta offsets follow)
    let cw = widthMBs * 16, chw = widthMBs * 8
    var y = [UInt8](repeating: 0, count: cw * heightMBs * 16)
    var cb = [UInt8](repeating: 0, count: chw * heightMBs * 8), cr = cb
    for my in 0..<heightMBs {
        for mx in 0..<widthMBs {
            guard r.ue() == 25 else { throw MP4Inspector.Failure("macroblock (\(mx),\(my)) is not I_PCM") }
            r.align()
            for j in 0..<16 { for i in 0..<16 { y[(my * 16 + j) * cw + mx * 16 + i] = UInt8(r.u(8)) } }
            for j in 0..<8 { for i in 0..<8 { cb[(my * 8 + j) * chw + mx * 8 + i] = UInt8(r.u(8)) } }
            for j in 0..<8 { for i in 0..<8 { cr[(my * 8 + j) * chw + mx * 8 + i] = UInt8(r.u(8)) } }
        }
    }
    guard r.u(1) == 1 else { throw MP4Inspector.Failure("missing rbsp_stop_one_bit") }
    return (y, cb, cr)
}

/// Runs a program and returns its exit status and standard output.
func runTool(_ exe: String, _ args: [String]) throws -> (status: Int32, stdout: Data) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, data)
}

func findTool(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let c = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: c) { return c }
    }
    return nil
}
