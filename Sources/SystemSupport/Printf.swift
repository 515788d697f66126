#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value a `printf` conversion can take.
public enum PrintfValue: Sendable {
    case signed(Int64), unsigned(UInt64), double(Double), text(String)
}

public protocol PrintfArgument { var printfValue: PrintfValue { get } }

extension Int: PrintfArgument { public var printfValue: PrintfValue { .signed(Int64(self)) } }
extension Int32: PrintfArgument { public var printfValue: PrintfValue { .signed(Int64(self)) } }
extension Int64: PrintfArgument { public var printfValue: PrintfValue { .signed(self) } }
extension UInt: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt8: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt32: PrintfArgument { public var printfValue: PrintfValue { .unsigned(UInt64(self)) } }
extension UInt64: PrintfArgument { public var printfValue: PrintfValue { .unsigned(self) } }
extension Double: PrintfArgument { public var printfValue: PrintfValue { .double(self) } }
extension Float: PrintfArgument { public var printfValue: PrintfValue { .double(Double(self)) } }
extension String: PrintfArgument { public var printfValue: PrintfValue { .text(self) } }
extension Substring: PrintfArgument { public var printfValue: PrintfValue { .text(String(self)) } }

extension String {
    /// C `printf` formatting without Foundation's `String(format:)` (which lives in
    /// FoundationInternationalization). Numbers are formatted by the C library, so `%6.1f`, `%.3e`,
    /// `%g`, `%02d`, `%016llx` read exactly as before; `%@` and `%s` take a string (width and `-` pad it).
    /// Length modifiers in the format are ignored: the argument's own type decides. An argument of
    /// another kind than its conversion is converted (a number for `%@`, a double for `%d`), a missing
    /// one formats as nothing, and an unknown conversion is kept as written.
    public init(printf format: String, _ arguments: any PrintfArgument...) {
        var out = ""
        var args = arguments.makeIterator()
        var chars = Array(format.unicodeScalars)[...]
        while let c = chars.popFirst() {
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            var flags = "", width = "", precision = ""
            while let f = chars.first, "-+ #0".unicodeScalars.contains(f) { flags.unicodeScalars.append(f); chars.removeFirst() }
            while let d = chars.first, ("0" ... "9").contains(d) { width.unicodeScalars.append(d); chars.removeFirst() }
            if chars.first == "." {
                precision = "."
                chars.removeFirst()
                while let d = chars.first, ("0" ... "9").contains(d) { precision.unicodeScalars.append(d); chars.removeFirst() }
            }
            while let l = chars.first, "hlqLjzt".unicodeScalars.contains(l) { chars.removeFirst() }
            guard let conversion = chars.popFirst() else { out += "%" + flags + width + precision; break }
            if conversion == "%" { out += "%"; continue }
            let spec = "%" + flags + width + precision
            guard "@sdiuxXfeEgGa".unicodeScalars.contains(conversion) else {
                out += spec + String(conversion)   // not a conversion this formatter knows: kept as written
                continue
            }
            // A missing argument formats as nothing; a mismatched one is converted (a log line must not
            // bring the program down).
            guard let value = args.next()?.printfValue else { continue }
            switch conversion {
            case "@", "s":
                out += Self.pad(Self.text(value), width: Int(width) ?? 0, left: flags.contains("-"))
            case "d", "i":
                switch value {
                case .unsigned(let v): out += Self.c(spec + "llu", v)
                default: out += Self.c(spec + "lld", Self.signed(value))
                }
            case "u", "x", "X":
                let v: UInt64
                switch value {
                case .unsigned(let u): v = u
                default: v = UInt64(bitPattern: Self.signed(value))
                }
                out += Self.c(spec + "ll" + String(conversion), v)
            default:
                out += Self.c(spec + String(conversion), Self.double(value))
            }
        }
        self = out
    }

    private static func text(_ v: PrintfValue) -> String {
        switch v {
        case .text(let s): return s
        case .signed(let i): return String(i)
        case .unsigned(let u): return String(u)
        case .double(let d): return String(d)
        }
    }

    private static func signed(_ v: PrintfValue) -> Int64 {
        switch v {
        case .signed(let i): return i
        case .unsigned(let u): return Int64(truncatingIfNeeded: u)
        case .double(let d): return d.isFinite ? Int64(Swift.max(-9.2e18, Swift.min(9.2e18, d.rounded(.towardZero)))) : 0
        case .text(let s): return Int64(s) ?? 0
        }
    }

    private static func double(_ v: PrintfValue) -> Double {
        switch v {
        case .signed(let i): return Double(i)
        case .unsigned(let u): return Double(u)
        case .double(let d): return d
        case .text(let s): return Double(s) ?? .nan
        }
    }

    private static func pad(_ s: String, width: Int, left: Bool) -> String {
        let n = s.count
        guard n < width else { return s }
        let fill = String(repeating: " ", count: width - n)
        return left ? s + fill : fill + s
    }

    private static func c(_ spec: String, _ value: any CVarArg) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let needed = withVaList([value]) { vsnprintf(&buffer, buffer.count, spec, $0) }
        if needed >= buffer.count {
            buffer = [CChar](repeating: 0, count: Int(needed) + 1)
            _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, spec, $0) }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
