/// Errors raised by tensor construction, views and backends. Messages name the operation and shapes.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case invalidArgument(String)
    case unsupported(String)
    case outOfMemory(String)
    case deviceError(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let m): "shape mismatch: \(m)"
        case .invalidArgument(let m): "invalid argument: \(m)"
        case .unsupported(let m): "unsupported: \(m)"
        case .outOfMemory(let m): "out of memory: \(m)"
        case .deviceError(let m): "device error: \(m)"
        }
    }
}
