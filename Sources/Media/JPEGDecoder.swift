/// JPEG decoding (ITU T.81): baseline and extended sequential Huffman (SOF0/SOF1) and progressive
/// Huffman (SOF2), 8-bit precision, 1 component (gray) or 3 (YCbCr, or RGB when an Adobe marker
/// says so), any sampling factors, restart markers. Reconstruction follows libjpeg-turbo's default
/// path bit for bit (islow integer IDCT, "fancy" triangle upsampling, fixed-point YCbCr→RGB), so the
/// output equals what PIL decodes. Arithmetic coding, lossless, hierarchical, 12-bit and CMYK/YCCK
/// files are refused with an error that says so.
struct JPEGDecoder {
    struct Component {
        let id: Int
        let h: Int, v: Int
        let tq: Int
        /// Size of the component's own image (libjpeg's downsampled_width/height).
        var width = 0, height = 0
        /// Block grid actually coded in non-interleaved scans, and the MCU-padded grid we store.
        var blocksWide = 0, blocksHigh = 0
        var paddedBlocksWide = 0, paddedBlocksHigh = 0
        /// Coefficients of every block (natural order), in a class so scans write in place (no copy-on-write).
        var coefficients = CoefficientStore(count: 0)
    }

    final class CoefficientStore {
        let pointer: UnsafeMutablePointer<Int16>
        let count: Int
        init(count: Int) {
            self.count = count
            pointer = .allocate(capacity: max(count, 1))
            pointer.initialize(repeating: 0, count: max(count, 1))
        }
        deinit { pointer.deallocate() }
    }

    let data: [UInt8]
    var pos = 0
    var width = 0, height = 0
    var progressive = false
    var components: [Component] = []
    var hmax = 1, vmax = 1, mcusX = 0, mcusY = 0
    var quant = [[Int]?](repeating: nil, count: 4)  // natural order
    var dcTables = [JPEGHuffman?](repeating: nil, count: 4)
    var acTables = [JPEGHuffman?](repeating: nil, count: 4)
    var restartInterval = 0
    var adobeTransform: Int?
    var sawJFIF = false
    var exifOrientation = 1
    var scansDecoded = 0
    var componentsScanned = Set<Int>()

    init(_ data: [UInt8]) { self.data = data }

    static func decode(_ data: [UInt8], applyOrientation: Bool) throws -> RGBImage {
        var d = JPEGDecoder(data)
        try d.parse()
        let image = try d.reconstruct()
        return applyOrientation ? EXIF.apply(orientation: d.exifOrientation, to: image) : image
    }

    // MARK: markers

    private mutating func u16() throws -> Int {
        guard pos + 2 <= data.count else { throw DecodeFailure.malformed("the file ends inside a marker segment (truncated)") }
        defer { pos += 2 }
        return Int(data[pos]) << 8 | Int(data[pos + 1])
    }

    /// Reads a marker segment's body (after its 2-byte length).
    private mutating func segment(_ name: String) throws -> [UInt8] {
        let length = try u16()
        guard length >= 2 else { throw DecodeFailure.malformed("\(name) segment length \(length) < 2") }
        guard pos + length - 2 <= data.count else {
            throw DecodeFailure.malformed("the file ends inside the \(name) segment (truncated)")
        }
        defer { pos += length - 2 }
        return Array(data[pos..<(pos + length - 2)])
    }

    mutating func parse() throws {
        guard data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 else { throw DecodeFailure.malformed("no JPEG SOI marker") }
        pos = 2
        var frameDone = false
        while true {
            // Find the next marker, skipping fill bytes (and, leniently, stray bytes).
            while pos < data.count && data[pos] != 0xFF { pos += 1 }
            while pos < data.count && data[pos] == 0xFF { pos += 1 }
            guard pos < data.count else {
                // No EOI: accept a sequential image whose components were all decoded; a progressive
                // file may be missing refinement scans, so it counts as truncated.
                if frameDone && !progressive && componentsScanned.count == components.count { return }
                throw DecodeFailure.malformed(components.isEmpty
                    ? "the file ends before the frame header (truncated)"
                    : scansDecoded == 0 ? "the file ends before any image data (truncated)"
                    : "the file ends after scan \(scansDecoded) without an EOI marker (truncated)")
            }
            let m = data[pos]
            pos += 1
            switch m {
            case 0xD9: // EOI
                guard scansDecoded > 0 else { throw DecodeFailure.malformed("EOI before any scan") }
                guard componentsScanned.count == components.count else {
                    throw DecodeFailure.malformed("some components have no scan before EOI")
                }
                return
            case 0xC0, 0xC1, 0xC2:
                guard components.isEmpty else { throw DecodeFailure.unsupported("more than one frame (SOF) in the file") }
                progressive = m == 0xC2
                try parseFrame(try segment("SOF"))
            case 0xC3: throw DecodeFailure.unsupported("lossless JPEG (SOF3)")
            case 0xC5, 0xC6, 0xC7: throw DecodeFailure.unsupported("hierarchical JPEG (SOF\(m - 0xC0))")
            case 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                throw DecodeFailure.unsupported("arithmetic-coded JPEG (SOF\(m - 0xC0))")
            case 0xC4: try parseHuffman(try segment("DHT"))
            case 0xCC: throw DecodeFailure.unsupported("arithmetic coding conditioning (DAC)")
            case 0xDB: try parseQuant(try segment("DQT"))
            case 0xDD:
                let b = try segment("DRI")
                guard b.count == 2 else { throw DecodeFailure.malformed("DRI segment has \(b.count) bytes") }
                restartInterval = Int(b[0]) << 8 | Int(b[1])
            case 0xDC: throw DecodeFailure.unsupported("DNL marker (height defined after the first scan)")
            case 0xDA:
                guard !components.isEmpty else { throw DecodeFailure.malformed("scan (SOS) before the frame header") }
                try decodeScan(try segment("SOS"))
                frameDone = true
            case 0xE1:
                let b = try segment("APP1")
                if let o = EXIF.orientation(app1: b) { exifOrientation = o }
            case 0xE0:
                let b = try segment("APP0")
                if b.starts(with: Array("JFIF".utf8)) { sawJFIF = true }
            case 0xEE:
                let b = try segment("APP14")
                if b.count >= 12 && b.starts(with: Array("Adobe".utf8)) { adobeTransform = Int(b[11]) }
            case 0xD0...0xD7, 0x01: break  // stray RST or TEM: no segment
            default: _ = try segment("marker 0xFF\(hex(m))")
            }
        }
    }

    private mutating func parseFrame(_ b: [UInt8]) throws {
        guard b.count >= 6 else { throw DecodeFailure.malformed("SOF segment too short") }
        guard b[0] == 8 else { throw DecodeFailure.unsupported("\(b[0])-bit samples (only 8-bit JPEG is decoded)") }
        height = Int(b[1]) << 8 | Int(b[2])
        width = Int(b[3]) << 8 | Int(b[4])
        let n = Int(b[5])
        guard height > 0 else { throw DecodeFailure.unsupported("height 0 in the frame header (defined by a DNL marker)") }
        guard width > 0 else { throw DecodeFailure.malformed("width 0 in the frame header") }
        guard width * height <= PNGDecoder.maxPixels else {
            throw DecodeFailure.unsupported("image of \(width)x\(height) pixels is larger than \(PNGDecoder.maxPixels) pixels")
        }
        guard n == 1 || n == 3 else {
            throw DecodeFailure.unsupported(n == 4 ? "4-component (CMYK/YCCK) JPEG" : "\(n)-component JPEG")
        }
        guard b.count >= 6 + 3 * n else { throw DecodeFailure.malformed("SOF segment too short for \(n) components") }
        for i in 0..<n {
            let h = Int(b[7 + 3 * i] >> 4), v = Int(b[7 + 3 * i] & 15), tq = Int(b[8 + 3 * i])
            guard (1...4).contains(h), (1...4).contains(v), tq < 4 else {
                throw DecodeFailure.malformed("component \(i) has sampling \(h)x\(v) / table \(tq)")
            }
            components.append(Component(id: Int(b[6 + 3 * i]), h: h, v: v, tq: tq))
        }
        hmax = components.map(\.h).max()!
        vmax = components.map(\.v).max()!
        mcusX = (width + 8 * hmax - 1) / (8 * hmax)
        mcusY = (height + 8 * vmax - 1) / (8 * vmax)
        for i in components.indices {
            var c = components[i]
            guard hmax % c.h == 0, vmax % c.v == 0 else {
                throw DecodeFailure.unsupported("sampling factors \(c.h)x\(c.v) do not divide \(hmax)x\(vmax)")
            }
            c.width = (width * c.h + hmax - 1) / hmax
            c.height = (height * c.v + vmax - 1) / vmax
            c.blocksWide = (c.width + 7) / 8
            c.blocksHigh = (c.height + 7) / 8
            c.paddedBlocksWide = mcusX * c.h
            c.paddedBlocksHigh = mcusY * c.v
            c.coefficients = CoefficientStore(count: c.paddedBlocksWide * c.paddedBlocksHigh * 64)
            components[i] = c
        }
    }

    private mutating func parseHuffman(_ b: [UInt8]) throws {
        var p = 0
        while p < b.count {
            guard p + 17 <= b.count else { throw DecodeFailure.malformed("DHT segment too short") }
            let tc = Int(b[p] >> 4), th = Int(b[p] & 15)
            guard tc <= 1, th <= 3 else { throw DecodeFailure.malformed("DHT table class \(tc) / id \(th)") }
            let counts = (0..<16).map { Int(b[p + 1 + $0]) }
            let total = counts.reduce(0, +)
            guard total <= 256, p + 17 + total <= b.count else { throw DecodeFailure.malformed("DHT table too long") }
            let table = try JPEGHuffman(counts: counts, values: Array(b[(p + 17)..<(p + 17 + total)]))
            if tc == 0 { dcTables[th] = table } else { acTables[th] = table }
            p += 17 + total
        }
    }

    private mutating func parseQuant(_ b: [UInt8]) throws {
        var p = 0
        while p < b.count {
            let pq = Int(b[p] >> 4), tq = Int(b[p] & 15)
            guard pq <= 1, tq <= 3 else { throw DecodeFailure.malformed("DQT precision \(pq) / id \(tq)") }
            let size = pq == 0 ? 64 : 128
            guard p + 1 + size <= b.count else { throw DecodeFailure.malformed("DQT segment too short") }
            var q = [Int](repeating: 0, count: 64)
            for k in 0..<64 {
                q[jpegZigzag[k]] = pq == 0 ? Int(b[p + 1 + k]) : Int(b[p + 1 + 2 * k]) << 8 | Int(b[p + 2 + 2 * k])
            }
            quant[tq] = q
            p += 1 + size
        }
    }

    // MARK: scans

    private mutating func decodeScan(_ b: [UInt8]) throws {
        guard let ns = b.first.map(Int.init), ns >= 1, ns <= 4, b.count >= 1 + 2 * ns + 3 else {
            throw DecodeFailure.malformed("SOS segment is malformed")
        }
        var scanComps: [(index: Int, td: Int, ta: Int)] = []
        for i in 0..<ns {
            let id = Int(b[1 + 2 * i])
            guard let ci = components.firstIndex(where: { $0.id == id }) else {
                throw DecodeFailure.malformed("scan refers to unknown component id \(id)")
            }
            scanComps.append((ci, Int(b[2 + 2 * i] >> 4), Int(b[2 + 2 * i] & 15)))
        }
        let ss = Int(b[1 + 2 * ns]), se = Int(b[2 + 2 * ns])
        let ah = Int(b[3 + 2 * ns] >> 4), al = Int(b[3 + 2 * ns] & 15)
        if progressive {
            guard ss <= se, se <= 63, ss == 0 || ns == 1, (ss == 0) == (se == 0), al <= 13 else {
                throw DecodeFailure.malformed("progressive scan parameters Ss=\(ss) Se=\(se) Ah=\(ah) Al=\(al) are invalid")
            }
        }
        // Check the tables this scan needs exist.
        for sc in scanComps {
            guard quant[components[sc.index].tq] != nil else {
                throw DecodeFailure.malformed("component \(components[sc.index].id) uses undefined quantization table")
            }
            let needsDC = !progressive || (ss == 0 && ah == 0)
            let needsAC = !progressive || ss > 0
            if needsDC && (sc.td > 3 || dcTables[sc.td] == nil) { throw DecodeFailure.malformed("scan uses undefined DC Huffman table \(sc.td)") }
            if needsAC && (sc.ta > 3 || acTables[sc.ta] == nil) { throw DecodeFailure.malformed("scan uses undefined AC Huffman table \(sc.ta)") }
        }
        var state = JPEGScanState(reader: JPEGBitReader(data, start: pos), ss: ss, se: se, ah: ah, al: al)

        // Per scan component: coefficient storage, blocks per padded row, tables, DC predictor.
        let stores = scanComps.map { components[$0.index].coefficients.pointer }
        let rowBlocks = scanComps.map { components[$0.index].paddedBlocksWide }
        let dcs = scanComps.map { $0.td <= 3 ? dcTables[$0.td] : nil }
        let acs = scanComps.map { $0.ta <= 3 ? acTables[$0.ta] : nil }
        var preds = [Int](repeating: 0, count: ns)
        let mode = !progressive ? 0 : ss == 0 ? 1 : ah == 0 ? 2 : 3

        // Decodes one block of scan component `k` at block row/column (by, bx).
        func block(_ k: Int, _ by: Int, _ bx: Int) throws {
            let blk = stores[k] + (by * rowBlocks[k] + bx) * 64
            switch mode {
            case 0: try state.decodeBaseline(blk, dcPred: &preds[k], dc: dcs[k]!, ac: acs[k]!)
            case 1: try state.decodeDC(blk, dcPred: &preds[k], dc: dcs[k])
            case 2: try state.decodeACFirst(blk, ac: acs[k]!)
            default: try state.decodeACRefine(blk, ac: acs[k]!)
            }
        }

        var restartsLeft = restartInterval, nextRST = 0
        func beforeMCU(isFirst: Bool) throws {
            guard restartInterval > 0 else { return }
            if restartsLeft == 0 && !isFirst {
                try state.reader.restart(expected: nextRST)
                nextRST = (nextRST + 1) & 7
                state.eobrun = 0
                for k in preds.indices { preds[k] = 0 }
                restartsLeft = restartInterval
            }
            restartsLeft -= 1
        }

        if ns == 1 {
            // Non-interleaved: one block per MCU over the component's own block grid.
            let sc = scanComps[0]
            let c = components[sc.index]
            for by in 0..<c.blocksHigh {
                for bx in 0..<c.blocksWide {
                    try beforeMCU(isFirst: by == 0 && bx == 0)
                    try block(0, by, bx)
                }
            }
        } else {
            for my in 0..<mcusY {
                for mx in 0..<mcusX {
                    try beforeMCU(isFirst: my == 0 && mx == 0)
                    for (k, sc) in scanComps.enumerated() {
                        let c = components[sc.index]
                        for v in 0..<c.v {
                            for h in 0..<c.h { try block(k, my * c.v + v, mx * c.h + h) }
                        }
                    }
                }
            }
        }
        scansDecoded += 1
        for sc in scanComps { componentsScanned.insert(sc.index) }
        pos = state.reader.nextMarkerPosition() ?? data.count
    }

    // MARK: reconstruction

    func reconstruct() throws -> RGBImage {
        guard scansDecoded > 0 else { throw DecodeFailure.malformed("no scan decoded") }
        // IDCT every block into a plane per component, then upsample and convert colour like libjpeg.
        var planes: [[UInt8]] = []
        for c in components {
            let q = quant[c.tq]!
            planes.append(JPEGReconstruct.idctPlane(UnsafePointer(c.coefficients.pointer), blocksWide: c.paddedBlocksWide,
                                                    blocksHigh: c.paddedBlocksHigh, quant: q))
        }
        var full: [[UInt8]] = []
        for (i, c) in components.enumerated() {
            full.append(JPEGReconstruct.upsample(planes[i], stride: c.paddedBlocksWide * 8, width: c.width,
                                                 height: c.height, hFactor: hmax / c.h, vFactor: vmax / c.v,
                                                 outWidth: width, outHeight: height))
        }
        if components.count == 1 { return JPEGReconstruct.gray(full[0], width: width, height: height) }
        let ids = components.map(\.id)
        let isRGB = adobeTransform == 0 || (adobeTransform == nil && !sawJFIF && ids == [0x52, 0x47, 0x42])
        return isRGB ? JPEGReconstruct.rgb(full, width: width, height: height)
                     : JPEGReconstruct.ycc(full, width: width, height: height)
    }
}
