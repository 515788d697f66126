#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Errors of the Media module. Every case names the file (or stream) and says what is wrong with it.
public enum MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read at all (missing, a directory, permission denied).
    case unreadable(path: String, reason: String)
    /// The file is a recognised format, but uses a feature this module does not decode.
    case unsupported(path: String, reason: String)
    /// The file is damaged or cut short.
    case malformed(path: String, reason: String)
    /// A caller passed inconsistent arguments (frame sizes differ, zero fps, ...).
    case invalidArgument(String)
    /// Writing an output failed; `reason` names the cause (e.g. "no space left on device").
    case writeFailed(path: String, reason: String)
    /// An external encoder (ffmpeg) failed.
    case encoderFailed(String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): "cannot read \(p): \(r)"
        case .unsupported(let p, let r): "\(p): unsupported image: \(r)"
        case .malformed(let p, let r): "\(p): damaged or truncated file: \(r)"
        case .invalidArgument(let m): m
        case .writeFailed(let p, let r): "cannot write \(p): \(r)"
        case .encoderFailed(let m): m
        }
    }
}

/// Failure raised inside a decoder, before the file name is known; `ImageDecoder` wraps it into `MediaError`.
struct DecodeFailure: Error {
    enum Kind { case unsupported, malformed }
    let kind: Kind
    let reason: String
    static func unsupported(_ r: String) -> DecodeFailure { DecodeFailure(kind: .unsupported, reason: r) }
    static func malformed(_ r: String) -> DecodeFailure { DecodeFailure(kind: .malformed, reason: r) }

    func error(path: String) -> MediaError {
        kind == .unsupported ? .unsupported(path: path, reason: reason) : .malformed(path: path, reason: reason)
    }
}
