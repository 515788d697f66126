/// A small strict JSON reader for tokenizer.json.
///
/// Not JSONSerialization: swift-corelibs-foundation's parser silently drops a U+FEFF at the
/// start of a string value, which would corrupt vocabulary entries (and did corrupt our test
/// strings). Numbers are parsed with Swift's correctly rounded `Double(_:)`, so float32 scores
/// written by Python come back exactly.
enum JSONValue {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var string: String? { if case .string(let s) = self { return s }; return nil }
    var double: Double? { if case .number(let d) = self { return d }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    var isNull: Bool { if case .null = self { return true }; return false }

    /// An integer value (a number without fraction that fits in Int).
    var int: Int? {
        guard let d = double, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = Parser(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }  // a byte-order mark before the document
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail("unexpected data after the JSON value") }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func fail(_ message: String) -> TokenizerError {
            TokenizerError(.notATokenizer, "not valid JSON: \(message) at byte \(i)")
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
            let w = Array(word.utf8)
            guard bytes.count - i >= w.count, bytes[i ..< i + w.count].elementsEqual(w) else { throw fail("bad literal") }
            i += w.count
            return v
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < 512 else { throw fail("nesting deeper than 512") }
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var o: [String: JSONValue] = [:]
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let k = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    o[k] = try value(depth: depth + 1)
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var a: [JSONValue] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                while true {
                    a.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "N"): return try literal("NaN", .number(.nan))
            case UInt8(ascii: "I"): return try literal("Infinity", .number(.infinity))
            default:
                return try number()
            }
        }

        mutating func number() throws -> JSONValue {
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "I") { return try literal("Infinity", .number(-.infinity)) }
            }
            while i < bytes.count, (0x30 ... 0x39).contains(bytes[i]) || [0x2E, 0x65, 0x45, 0x2B, 0x2D].contains(bytes[i]) { i += 1 }
            guard i > start, let d = Double(String(decoding: bytes[start ..< i], as: UTF8.self)) else {
                i = start
                throw fail("unexpected character")
            }
            return .number(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard bytes.count - i >= 4 else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0 ..< 4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 0x30 ... 0x39: d = UInt32(c - 0x30)
                case 0x41 ... 0x46: d = UInt32(c - 0x41 + 10)
                case 0x61 ... 0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character in a string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800 ... 0xDBFF).contains(v), bytes.count - i >= 6, bytes[i] == 0x5C, bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let lo = try hex4()
                        if (0xDC00 ... 0xDFFF).contains(lo) {
                            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    // A lone surrogate cannot be held in a Swift string: it becomes U+FFFD.
                    out.append(contentsOf: UTF8.encode(Unicode.Scalar(v) ?? "\u{FFFD}")!)
                default:
                    throw fail("bad escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
            return s
        }
    }
}

extension JSONValue {
    /// Compact JSON text (used by tests to build tokenizer.json variants).
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .number(let d):
            out += Array((d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)").utf8)
        case .string(let s):
            out.append(0x22)
            for u in s.utf8 {
                switch u {
                case 0x22: out += [0x5C, 0x22]
                case 0x5C: out += [0x5C, 0x5C]
                case 0 ..< 0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    out += [0x5C, 0x75, 0x30, 0x30, hex[Int(u >> 4)], hex[Int(u & 15)]]
                default: out.append(u)
                }
            }
            out.append(0x22)
        case .array(let a):
            out.append(0x5B)
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(0x2C) }
                v.write(into: &out)
            }
            out.append(0x5D)
        case .object(let o):
            out.append(0x7B)
            for (k, (key, v)) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if k > 0 { out.append(0x2C) }
                JSONValue.string(key).write(into: &out)
                out.append(0x3A)
                v.write(into: &out)
            }
            out.append(0x7D)
        }
    }
}
