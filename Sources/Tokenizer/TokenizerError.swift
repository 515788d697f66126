/// Every failure while locating, reading or validating a tokenizer file. Loading never traps:
/// foreign, truncated and inconsistent files end up here with a message naming the file and
/// what was expected.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// No tokenizer file where one was expected (the message says what to download).
        case notFound
        /// The file is not a SentencePiece ModelProto / not a tokenizer.json with a Unigram model.
        case notATokenizer
        /// The file is of the right kind but its contents are inconsistent.
        case corrupt
        /// Valid, but uses a feature this implementation does not reproduce.
        case unsupported
        /// Operating-system errors (cannot read the file).
        case io
        /// Bad arguments to an encode call.
        case invalidArgument
    }

    public let kind: Kind
    /// The file concerned; empty when the error came from in-memory bytes.
    public let path: String
    public let message: String

    public init(_ kind: Kind, path: String = "", _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    /// The same error attributed to `path` (lower layers parse bytes without knowing the name).
    func at(_ path: String) -> TokenizerError {
        self.path.isEmpty ? TokenizerError(kind, path: path, message) : self
    }
}
