/// Why a download failed. Each message names the file and says what to do about it.
public struct HubError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case notFound, unauthorized, rateLimitedOrServer, network, checksumMismatch, sizeMismatch
        case insufficientSpace, offline, interrupted, badResponse, io
    }
    public let kind: Kind
    public let description: String
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
