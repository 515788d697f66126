/// A minimal protocol-buffers wire-format reader: enough to walk a SentencePiece ModelProto.
/// Every read is bounds-checked; malformed input throws `.notATokenizer` (callers turn that
/// into a message naming the file). Groups (wire types 3/4) are rejected: no SentencePiece
/// message uses them, and a foreign file that happens to start with such a key is not a model.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// One field of a message. `payload` is the byte range of a length-delimited value;
    /// `scalar` holds varint, fixed32 and fixed64 values.
    struct Field {
        let number: Int
        let wireType: WireType
        let scalar: UInt64
        let payload: Range<Int>
    }

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    /// Names the message in errors ("ModelProto", "TrainerSpec"...).
    let context: String

    init(_ bytes: [UInt8], range: Range<Int>? = nil, context: String) {
        self.bytes = bytes
        self.position = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
        self.context = context
    }

    var isAtEnd: Bool { position >= end }

    private func fail(_ message: String) -> TokenizerError {
        TokenizerError(.notATokenizer, "not a protobuf \(context): \(message)")
    }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw fail("varint runs past the end at byte \(position)") }
            let b = bytes[position]
            position += 1
            // The 10th byte may only carry the top bit of a 64-bit value.
            if shift == 63 && b > 1 { throw fail("varint longer than 64 bits at byte \(position - 1)") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes at byte \(position - 1)") }
        }
    }

    /// The next field, or nil at the end of the message.
    mutating func nextField() throws -> Field? {
        guard !isAtEnd else { return nil }
        let keyAt = position
        let key = try readVarint()
        let number = key >> 3
        guard number >= 1, number <= 536_870_911 else { throw fail("field number \(number) at byte \(keyAt)") }
        guard let wire = WireType(rawValue: UInt8(key & 7)) else {
            throw fail("wire type \(key & 7) (field \(number)) at byte \(keyAt) is not used by SentencePiece")
        }
        switch wire {
        case .varint:
            return Field(number: Int(number), wireType: wire, scalar: try readVarint(), payload: position ..< position)
        case .fixed32:
            guard end - position >= 4 else { throw fail("fixed32 field \(number) runs past the end") }
            var v: UInt64 = 0
            for i in 0 ..< 4 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 4
            return Field(number: Int(number), wireType: wire, scalar: v, payload: position ..< position)
        case .fixed64:
            guard end - position >= 8 else { throw fail("fixed64 field \(number) runs past the end") }
            var v: UInt64 = 0
            for i in 0 ..< 8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return Field(number: Int(number), wireType: wire, scalar: v, payload: position ..< position)
        case .lengthDelimited:
            let length = try readVarint()
            guard length <= UInt64(end - position) else {
                throw fail("field \(number) announces \(length) bytes but only \(end - position) remain")
            }
            let start = position
            position += Int(length)
            return Field(number: Int(number), wireType: wire, scalar: 0, payload: start ..< position)
        }
    }

    /// A reader over a nested message.
    func nested(_ field: Field, context: String) -> ProtobufReader {
        ProtobufReader(bytes, range: field.payload, context: context)
    }

    // MARK: typed accessors (proto2 scalar encodings)

    func string(_ field: Field, _ name: String) throws -> String {
        try expect(field, .lengthDelimited, name)
        guard let s = String(validating: bytes[field.payload], as: UTF8.self) else {
            throw fail("\(name) is not valid UTF-8")
        }
        return s
    }

    func data(_ field: Field, _ name: String) throws -> [UInt8] {
        try expect(field, .lengthDelimited, name)
        return Array(bytes[field.payload])
    }

    func bool(_ field: Field, _ name: String) throws -> Bool {
        try expect(field, .varint, name)
        return field.scalar != 0
    }

    /// int32 fields are written as sign-extended 64-bit varints.
    func int32(_ field: Field, _ name: String) throws -> Int32 {
        try expect(field, .varint, name)
        return Int32(truncatingIfNeeded: Int64(bitPattern: field.scalar))
    }

    func float(_ field: Field, _ name: String) throws -> Float {
        try expect(field, .fixed32, name)
        return Float(bitPattern: UInt32(truncatingIfNeeded: field.scalar))
    }

    private func expect(_ field: Field, _ wire: WireType, _ name: String) throws {
        guard field.wireType == wire else {
            throw fail("\(name) (field \(field.number)) has wire type \(field.wireType.rawValue), expected \(wire.rawValue)")
        }
    }
}
