/// Every failure while reading or writing a checkpoint. Parsing never traps: malformed,
/// truncated, foreign and hostile inputs all end up here with a message that names the
/// file, the place inside it and what was expected.
public struct CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The file is not a checkpoint at all (an image, text, an empty file...).
        case notACheckpoint
        /// The file ends before the structures it announces.
        case truncated
        /// Structures are inconsistent (bad offsets, bad signatures, bad JSON, CRC mismatch...).
        case corrupt
        /// The pickle asks for something a state dict never contains; nothing was executed.
        case refused
        /// Valid, but uses a feature or dtype this engine does not handle.
        case unsupported
        /// Several sources disagree (sharded sets, duplicate names, missing tensors).
        case inconsistent
        /// Operating-system errors: cannot open, disk full, rename failed.
        case io
    }

    public let kind: Kind
    /// The file (or directory) concerned; empty when the error came from in-memory bytes.
    public let path: String
    public let message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    /// The same error attributed to `path` (used when lower layers did not know the file name).
    func at(_ path: String) -> CheckpointError {
        self.path.isEmpty ? CheckpointError(kind, path: path, message) : self
    }
}
