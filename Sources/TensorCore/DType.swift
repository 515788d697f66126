/// Element types a tensor can hold. Raw values are the short names used in messages and CLI flags.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, bf16, f16, fp8e4m3, i8, u8, i32, i64

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: 4
        case .bf16, .f16: 2
        case .fp8e4m3, .i8, .u8: 1
        case .i64: 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .bf16, .f16, .fp8e4m3: true
        case .i8, .u8, .i32, .i64: false
        }
    }

    public var description: String { rawValue }

    /// Parses user-facing names (`f32`, `float32`, `bf16`, `bfloat16`, …).
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "float32", "float", "fp32": self = .f32
        case "bf16", "bfloat16": self = .bf16
        case "f16", "float16", "half", "fp16": self = .f16
        case "fp8e4m3", "float8_e4m3fn", "f8e4m3", "f8_e4m3": self = .fp8e4m3
        case "i8", "int8": self = .i8
        case "u8", "uint8": self = .u8
        case "i32", "int32", "int": self = .i32
        case "i64", "int64", "long": self = .i64
        default: return nil
        }
    }
}
