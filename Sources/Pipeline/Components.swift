import Models
import TensorCore

/// Turns a prompt into the DiT's text context: [L ≤ text length, text width] (umT5-XXL: 4096 wide;
/// rows past the prompt are zero or dropped, which the DiT treats alike).
public protocol PromptEncoder: AnyObject {
    /// Where it computes; `encode` returns a tensor of this backend.
    var backend: any Backend { get }
    func encode(_ prompt: String) throws -> Tensor
}

/// The video autoencoder (Wan2.1 VAE): latents [16, T, H/8, W/8] ↔ video [3, F, H, W] in [-1, 1],
/// F = 4(T − 1) + 1. Both directions take and return tensors of `backend`.
public protocol VideoAutoencoder: AnyObject {
    var backend: any Backend { get }
    func decode(_ z: Tensor) throws -> Tensor
    func encode(_ video: Tensor) throws -> Tensor
}

/// A denoising network that predicts the velocity v ≈ ε − x₀ (Wan DiT: x [C, F, H, W] -> [16, F, H, W]).
public protocol VelocityModel: AnyObject {
    /// Where it computes; `velocity` takes and returns tensors of this backend.
    var backend: any Backend { get }
    var inChannels: Int { get }
    func velocity(x: Tensor, timestep: Double, context: Tensor) throws -> Tensor
}

/// `WanDiT` with the compute context it runs in.
public final class DiTVelocityModel: VelocityModel {
    public let model: WanDiT
    public let context: ComputeContext
    public init(_ model: WanDiT, context: ComputeContext) {
        self.model = model
        self.context = context
    }
    public var backend: any Backend { context.backend }
    public var inChannels: Int { model.config.inChannels }
    public func velocity(x: Tensor, timestep: Double, context text: Tensor) throws -> Tensor {
        try model(x: x, timestep: timestep, context: text, context)
    }
}

/// `t` (a tensor of `source`) as a tensor of `target`: unchanged when both are the same device, else
/// through the host. Components may live on different devices (`--dit_device`, `--vae_device`, …).
public func transfer(_ t: Tensor, from source: any Backend, to target: any Backend) throws -> Tensor {
    if source.device == target.device { return t }
    return try target.upload(source.toHost(t))
}

/// A pipeline component that is built on demand and, unless kept resident (the interactive
/// session), dropped after its stage, so peak memory is one stage's.
public final class Component<Value> {
    public let name: String
    /// Keep the value between stages and generations.
    public var resident: Bool
    private let build: () throws -> Value
    private var value: Value?

    public init(_ name: String, resident: Bool = false, build: @escaping () throws -> Value) {
        self.name = name
        self.resident = resident
        self.build = build
    }

    /// A component that already exists (always resident).
    public init(_ name: String, value: Value) {
        self.name = name
        resident = true
        self.value = value
        build = { value }
    }

    public var isLoaded: Bool { value != nil }

    public func acquire() throws -> Value {
        if let value { return value }
        let v = try build()
        value = v
        return v
    }

    /// Drops the value unless resident (or `force`d: "free memory").
    public func release(force: Bool = false) {
        if force || !resident { value = nil }
    }
}
