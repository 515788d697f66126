import Foundation

/// Reads what a player needs from an MP4: frame count (stsz), size (tkhd), fps (mdhd timescale /
/// stts delta) and the codec (stsd entry). Independent of the writer under test.
struct MP4Probe {
    var frames = 0, width = 0, height = 0
    var fps = 0.0
    var codec = ""

    init(path: String) throws {
        let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ i: Int) -> Int { Int(d[i]) << 24 | Int(d[i + 1]) << 16 | Int(d[i + 2]) << 8 | Int(d[i + 3]) }
        var timescale = 0, delta = 0
        func walk(_ start: Int, _ end: Int) {
            var i = start
            while i + 8 <= end {
                var size = u32(i)
                let type = String(decoding: d[(i + 4)..<(i + 8)], as: UTF8.self)
                if size == 0 { size = end - i }
                guard size >= 8, i + size <= end else { return }
                switch type {
                case "moov", "trak", "mdia", "minf", "stbl": walk(i + 8, i + size)
                case "tkhd":
                    let v1 = d[i + 8] == 1
                    let at = i + 8 + (v1 ? 88 : 76)
                    width = u32(at) >> 16
                    height = u32(at + 4) >> 16
                case "mdhd": timescale = u32(i + 8 + (d[i + 8] == 1 ? 20 : 12))
                case "stts": delta = u32(i + 8 + 12)
                case "stsz": frames = u32(i + 8 + 8)
                case "stsd": codec = String(decoding: d[(i + 8 + 8 + 4)..<(i + 8 + 8 + 8)], as: UTF8.self)
                default: break
                }
                i += size
            }
        }
        walk(0, d.count)
        fps = delta > 0 ? Double(timescale) / Double(delta) : 0
    }
}
