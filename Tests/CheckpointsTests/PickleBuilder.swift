import Foundation
@testable import Checkpoints

/// Assembles pickle bytes opcode by opcode (protocol 2 unless told otherwise).
struct PickleBuilder {
    var bytes: [UInt8]

    init(protocol version: UInt8 = 2) { bytes = [0x80, version] }

    mutating func op(_ b: UInt8...) { bytes += b }

    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        op(0x58)
        bytes += le32(u.count) + u
    }

    mutating func global(_ module: String, _ name: String) {
        op(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func int(_ n: Int) {
        if (0 ..< 256).contains(n) { op(0x4B, UInt8(n)) } else { op(0x4A); bytes += le32(n) }
    }

    mutating func intTuple(_ values: [Int]) {
        op(0x28)
        for v in values { int(v) }
        op(0x74)
    }

    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        op(0x29, 0x52)
    }

    /// `_rebuild_tensor_v2(('storage', torch.<cls>, key, location, numel), offset, size, stride, False, OrderedDict())`.
    mutating func tensor(storage cls: String, key: String, location: String = "cpu", numel: Int,
                         offset: Int = 0, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28, 0x28)  // MARK (args), MARK (persistent id)
        string("storage")
        global("torch", cls)
        string(key)
        string(location)
        int(numel)
        op(0x74, 0x51)  // TUPLE, BINPERSID
        int(offset)
        intTuple(size)
        intTuple(stride)
        op(0x89)
        emptyOrderedDict()
        op(0x74, 0x52)  // TUPLE, REDUCE
    }

    /// A state dict `OrderedDict([(name, tensor)...])`; `body` emits key/value pairs.
    static func stateDict(_ body: (inout PickleBuilder) -> Void) -> [UInt8] {
        var p = PickleBuilder()
        p.emptyOrderedDict()
        p.op(0x28)
        body(&p)
        p.op(0x75, 0x2E)  // SETITEMS, STOP
        return p.bytes
    }
}

func le32(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: n).littleEndian) { Array($0) } }
func le16(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(truncatingIfNeeded: n).littleEndian) { Array($0) } }

/// A minimal zip writer (STORED, no alignment) for hand-made torch archives in tests.
func makeZip(_ entries: [(String, [UInt8])]) -> [UInt8] {
    var out: [UInt8] = [], central: [UInt8] = []
    for (name, data) in entries {
        let n = Array(name.utf8)
        let crc = data.withUnsafeBytes { CRC32.checksum($0) }
        let offset = out.count
        out += le32(0x0403_4B50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(Int(crc))
        out += le32(data.count) + le32(data.count) + le16(n.count) + le16(0) + n + data
        central += le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(Int(crc))
        central += le32(data.count) + le32(data.count) + le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + n
    }
    let cdOffset = out.count
    out += central
    out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(central.count) + le32(cdOffset) + le16(0)
    return out
}

/// A torch-style archive: `t/data.pkl`, `t/byteorder`, and `t/data/<key>` storages.
func torchArchive(pickle: [UInt8], storages: [(String, [UInt8])], byteorder: String = "little") -> [UInt8] {
    var entries: [(String, [UInt8])] = [("t/data.pkl", pickle), ("t/byteorder", Array(byteorder.utf8))]
    for (k, d) in storages { entries.append(("t/data/\(k)", d)) }
    return makeZip(entries)
}

func floatBytes(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
