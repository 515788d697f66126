/// A read-only view of a zip archive held in memory (normally a whole mapped file).
///
/// Only what torch.save produces has to be read: STORED members, possibly zip64 (text
/// encoders are 11 GB), data aligned by padding in the local header's extra field (so the
/// local extra length differs from the central one: always take it from the local header).
/// Member data is never copied; `data(of:)` returns a view into the mapping.
struct ZipArchive {
    struct Entry {
        let name: String
        let flags: UInt16
        let method: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
        /// Offset of the first data byte: local header + 30 + name length + local extra length.
        let dataOffset: Int
    }

    let view: ByteView
    let entries: [Entry]
    private let index: [String: Int]

    private static let localSignature: UInt32 = 0x0403_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let eocdSignature: UInt32 = 0x0605_4B50
    private static let eocd64Signature: UInt32 = 0x0606_4B50
    private static let locatorSignature: UInt32 = 0x0706_4B50

    init(_ view: ByteView) throws {
        self.view = view
        let eocd = try Self.findEndRecord(view)
        var entryCount = Int(try view.u16(eocd + 10, "end-of-central-directory record"))
        var cdSize = Int(try view.u32(eocd + 12, "end-of-central-directory record"))
        var cdOffset = Int(try view.u32(eocd + 16, "end-of-central-directory record"))
        let disk = try view.u16(eocd + 4, "end-of-central-directory record")
        var cdLimit = eocd  // the central directory must end before the record that describes it

        // Zip64: a locator sits just before the classic record; it points at the EOCD64 record.
        if eocd >= 20, try view.u32(eocd - 20, "zip64 locator") == Self.locatorSignature {
            let recordOffset = try view.u64(eocd - 12, "zip64 locator")
            guard let r = Int(exactly: recordOffset), view.contains(r, 56), r <= eocd - 20 else {
                throw CheckpointError(.corrupt, path: "", "the zip64 locator points at offset \(recordOffset), outside the archive (\(view.count) bytes)")
            }
            guard try view.u32(r, "zip64 end record") == Self.eocd64Signature else {
                throw CheckpointError(.corrupt, path: "", "no zip64 end-of-central-directory record at offset \(r) where the locator points")
            }
            guard try view.u32(r + 16, "zip64 end record") == 0, try view.u32(r + 20, "zip64 end record") == 0 else {
                throw CheckpointError(.unsupported, path: "", "multi-part (spanned) zip archives are not supported")
            }
            guard let n = Int(exactly: try view.u64(r + 32, "zip64 end record")),
                  let s = Int(exactly: try view.u64(r + 40, "zip64 end record")),
                  let o = Int(exactly: try view.u64(r + 48, "zip64 end record")) else {
                throw CheckpointError(.corrupt, path: "", "zip64 end record holds sizes beyond Int.max")
            }
            entryCount = n
            cdSize = s
            cdOffset = o
            cdLimit = r
        } else if disk != 0 {
            throw CheckpointError(.unsupported, path: "", "multi-part (spanned) zip archives are not supported")
        } else if entryCount == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw CheckpointError(.corrupt, path: "", "the end record announces zip64 sizes but there is no zip64 locator before it")
        }

        guard cdOffset >= 0, cdSize >= 0, let cdEnd = Checked.add(cdOffset, cdSize), cdEnd <= cdLimit else {
            throw CheckpointError(.corrupt, path: "",
                                  "the central directory (\(cdSize) bytes at offset \(cdOffset)) does not lie before its end record at \(cdLimit)")
        }
        // Each central header has at least 46 bytes: a count larger than that is a lie we must
        // not use to reserve memory.
        guard entryCount <= cdSize / 46 else {
            throw CheckpointError(.corrupt, path: "", "the end record claims \(entryCount) entries but the central directory has only \(cdSize) bytes")
        }

        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        var index: [String: Int] = [:]
        var p = cdOffset
        for i in 0 ..< entryCount {
            let what = "central directory entry \(i)"
            guard p <= cdEnd - 46, try view.u32(p, what) == Self.centralSignature else {
                throw CheckpointError(.corrupt, path: "", "\(what) at offset \(p) has no central-header signature")
            }
            let flags = try view.u16(p + 8, what)
            let method = try view.u16(p + 10, what)
            let crc = try view.u32(p + 16, what)
            var compressed = UInt64(try view.u32(p + 20, what))
            var uncompressed = UInt64(try view.u32(p + 24, what))
            let nameLength = Int(try view.u16(p + 28, what))
            let extraLength = Int(try view.u16(p + 30, what))
            let commentLength = Int(try view.u16(p + 32, what))
            let startDisk = try view.u16(p + 34, what)
            var localOffset = UInt64(try view.u32(p + 42, what))
            let headerLength = 46 + nameLength + extraLength + commentLength
            guard p + headerLength <= cdEnd else {
                throw CheckpointError(.corrupt, path: "", "\(what) at offset \(p) runs past the end of the central directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: view.bytes[(p + 46) ..< (p + 46 + nameLength)]), as: UTF8.self)

            // Zip64 extra field (id 1): 8-byte values for exactly the fields saturated above, in
            // the order uncompressed, compressed, local offset (then a 4-byte disk number).
            var q = p + 46 + nameLength
            let extraEnd = q + extraLength
            while q + 4 <= extraEnd {
                let id = try view.u16(q, what)
                let size = Int(try view.u16(q + 2, what))
                guard q + 4 + size <= extraEnd else {
                    throw CheckpointError(.corrupt, path: "", "extra field of zip entry '\(name)' runs past its end")
                }
                if id == 1 {
                    var f = q + 4
                    func next() throws -> UInt64 {
                        guard f + 8 <= q + 4 + size else {
                            throw CheckpointError(.corrupt, path: "", "zip64 extra field of '\(name)' is too short")
                        }
                        defer { f += 8 }
                        return try view.u64(f, what)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                q += 4 + size
            }
            guard startDisk == 0 || startDisk == 0xFFFF else {
                throw CheckpointError(.unsupported, path: "", "zip entry '\(name)' starts on disk \(startDisk): spanned archives are not supported")
            }
            guard let cSize = Int(exactly: compressed), let uSize = Int(exactly: uncompressed),
                  let lho = Int(exactly: localOffset) else {
                throw CheckpointError(.corrupt, path: "", "zip entry '\(name)' has sizes beyond Int.max")
            }
            let dataOffset = try Self.validateLocalHeader(view, at: lho, name: name, method: method, cdOffset: cdOffset)
            guard let dataEnd = Checked.add(dataOffset, cSize), dataEnd <= cdOffset else {
                throw CheckpointError(.corrupt, path: "",
                                      "zip entry '\(name)' claims \(cSize) bytes at offset \(dataOffset), past the central directory at \(cdOffset)")
            }
            guard index[name] == nil else {
                throw CheckpointError(.corrupt, path: "", "the zip archive holds two entries named '\(name)'")
            }
            index[name] = entries.count
            entries.append(Entry(name: name, flags: flags, method: method, crc32: crc, compressedSize: cSize,
                                 uncompressedSize: uSize, localHeaderOffset: lho, dataOffset: dataOffset))
            p += headerLength
        }
        self.entries = entries
        self.index = index
    }

    func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of a STORED entry, without copying. `verifyCRC` reads them all (small entries only).
    func data(of entry: Entry, verifyCRC: Bool = false) throws -> ByteView {
        guard entry.flags & 1 == 0 else {
            throw CheckpointError(.unsupported, path: "", "zip entry '\(entry.name)' is encrypted")
        }
        guard entry.method == 0 else {
            let how = entry.method == 8 ? "deflate" : "method \(entry.method)"
            throw CheckpointError(.unsupported, path: "",
                                  "zip entry '\(entry.name)' is compressed (\(how)); torch.save writes stored (uncompressed) entries, so this archive was repacked: re-save it with torch.save or unzip and re-zip with `zip -0`")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw CheckpointError(.corrupt, path: "",
                                  "stored zip entry '\(entry.name)' has compressed size \(entry.compressedSize) but uncompressed size \(entry.uncompressedSize)")
        }
        let data = try view.slice(entry.dataOffset, entry.compressedSize, name: entry.name, "zip entry '\(entry.name)'")
        if verifyCRC {
            let crc = CRC32.checksum(data.bytes)
            guard crc == entry.crc32 else {
                throw CheckpointError(.corrupt, path: "",
                                      "zip entry '\(entry.name)' fails its CRC check (stored \(hex32(entry.crc32)), computed \(hex32(crc))): the file is damaged")
            }
        }
        return data
    }

    /// Searches backwards for the end-of-central-directory record (22 bytes + comment ≤ 65535).
    private static func findEndRecord(_ view: ByteView) throws -> Int {
        let size = view.count
        if size >= 22 {
            let lowest = max(0, size - 22 - 65535)
            var p = size - 22
            while p >= lowest {
                if view.bytes[p] == 0x50, view.bytes[p + 1] == 0x4B, view.bytes[p + 2] == 5, view.bytes[p + 3] == 6,
                   let comment = try? view.u16(p + 20, "end record"), p + 22 + Int(comment) == size {
                    return p
                }
                p -= 1
            }
        }
        if view.hasPrefix([0x50, 0x4B, 0x03, 0x04]) {
            throw CheckpointError(.truncated, path: "",
                                  "truncated: the zip archive (\(size) bytes) has no end-of-central-directory record, which must close every zip; the file was cut off (an interrupted download or copy?)")
        }
        throw CheckpointError(.corrupt, path: "", "no end-of-central-directory record: not a valid zip archive")
    }

    /// Checks the local header of an entry and returns its data offset.
    private static func validateLocalHeader(_ view: ByteView, at offset: Int, name: String, method: UInt16, cdOffset: Int) throws -> Int {
        let what = "local header of zip entry '\(name)'"
        guard offset >= 0, offset <= cdOffset - 30 else {
            throw CheckpointError(.corrupt, path: "", "\(what) at offset \(offset) lies outside the archive data (central directory at \(cdOffset))")
        }
        guard try view.u32(offset, what) == localSignature else {
            throw CheckpointError(.corrupt, path: "", "\(what) at offset \(offset) has no local-header signature")
        }
        let localMethod = try view.u16(offset + 8, what)
        let nameLength = Int(try view.u16(offset + 26, what))
        let extraLength = Int(try view.u16(offset + 28, what))
        try view.check(offset + 30, nameLength, what)
        let localName = String(decoding: UnsafeRawBufferPointer(rebasing: view.bytes[(offset + 30) ..< (offset + 30 + nameLength)]), as: UTF8.self)
        guard localName == name else {
            throw CheckpointError(.corrupt, path: "", "\(what) names '\(localName)' instead")
        }
        guard localMethod == method else {
            throw CheckpointError(.corrupt, path: "", "\(what) says method \(localMethod), the central directory says \(method)")
        }
        return offset + 30 + nameLength + extraLength
    }
}

func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
