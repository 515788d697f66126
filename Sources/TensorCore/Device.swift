/// Where a tensor's memory lives.
public struct Device: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case cpu, cuda }
    public let kind: Kind
    public let index: Int

    public init(_ kind: Kind, index: Int = 0) {
        self.kind = kind
        self.index = index
    }

    public static let cpu = Device(.cpu)
    public static func cuda(_ index: Int = 0) -> Device { Device(.cuda, index: index) }

    public var description: String { kind == .cpu ? "cpu" : "cuda:\(index)" }
}

/// A block of memory owned by one device. Backends define their own buffer classes;
/// a tensor holds one and a byte-free view (shape, strides, offset) onto it.
public protocol DeviceBuffer: AnyObject, Sendable {
    var device: Device { get }
    var byteCount: Int { get }
}
