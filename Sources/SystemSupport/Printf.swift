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
    /// Length modifiers in the format are ignored: the argument's own type decides. A conversion
    /// whose argument is missing or of the wrong kind is a programming error and traps.
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
            guard let conversion = chars.popFirst() else { preconditionFailure("printf format ends inside a conversion: \(format)") }
            if conversion == "%" { out += "%"; continue }
            guard let argument = args.next() else { preconditionFailure("printf format \(format) has more conversions than arguments") }
            let spec = "%" + flags + width + precision
            switch (conversion, argument.printfValue) {
            case ("@", .text(let s)), ("s", .text(let s)):
                out += Self.pad(s, width: Int(width) ?? 0, left: flags.contains("-"))
            case ("d", .signed(let v)), ("i", .signed(let v)):
                out += Self.c(spec + "lld", v)
            case ("d", .unsigned(let v)), ("u", .unsigned(let v)):
                out += Self.c(spec + "llu", v)
            case ("u", .signed(let v)), ("x", .signed(let v)), ("X", .signed(let v)):
                out += Self.c(spec + "ll" + String(conversion), UInt64(bitPattern: v))
            case ("x", .unsigned(let v)), ("X", .unsigned(let v)):
                out += Self.c(spec + "ll" + String(conversion), v)
            case (_, .double(let v)) where "feEgGa".unicodeScalars.contains(conversion):
                out += Self.c(spec + String(conversion), v)
            default:
                preconditionFailure("printf format \(format): %\(conversion) does not take \(argument.printfValue)")
            }
        }
        self = out
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
