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
    /// Latent to video, over spatial tiles when the memory plan asks for them (`tiling` nil: whole
    /// frames), feeding frames through the layers as `streaming` says (the same result; the plan
    /// picks the grouping that fits). Conformers give both their defaults (nil, `.reference`);
    /// one without tiling throws for a tiling (`refuseTiling`) and one without a choice of
    /// grouping ignores `streaming`.
    func decode(_ z: Tensor, tiling: VAETiling?, streaming: VAEStreaming) throws -> Tensor
    /// Video to latent, over spatial tiles when the memory plan asks for them (`tiling` nil: whole
    /// frames; conformers default it to nil, and one without tiling throws for a tiling).
    func encode(_ video: Tensor, tiling: VAETiling?) throws -> Tensor
}

extension VideoAutoencoder {
    /// For autoencoders that only run whole frames: throws unless `tiling` is nil.
    public func refuseTiling(_ tiling: VAETiling?, decoding: Bool) throws {
        guard let tiling else { return }
        throw PipelineError.incompatible("this autoencoder cannot \(decoding ? "decode" : "encode") in tiles (\(tiling))")
    }
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
/// session), dropped after its stage, so peak memory is one stage's. A builder may follow the
/// generation's memory plan (where the model lives, whether the DiT streams); a value built for
/// another placement (`variant`) is dropped and built again.
public final class Component<Value> {
    public let name: String
    /// Keep the value between stages and generations (the memory plan may withdraw it per generation).
    public var resident: Bool
    /// What the owner asked for at creation; `resident` returns to it when the plan allows.
    public let requestedResident: Bool
    private let build: (MemoryPlan?) throws -> Value
    private var value: Value?
    private var builtVariant = ""

    public init(_ name: String, resident: Bool = false, build: @escaping () throws -> Value) {
        self.name = name
        self.resident = resident
        requestedResident = resident
        self.build = { _ in try build() }
    }

    /// A component whose builder reads the generation's memory plan (nil when no plan was made).
    public init(_ name: String, resident: Bool = false, planned build: @escaping (MemoryPlan?) throws -> Value) {
        self.name = name
        self.resident = resident
        requestedResident = resident
        self.build = build
    }

    /// A component that already exists (always resident).
    public init(_ name: String, value: Value) {
        self.name = name
        resident = true
        requestedResident = true
        self.value = value
        build = { _ in value }
    }

    public var isLoaded: Bool { value != nil }

    /// The value, built for `plan` if it is not loaded or was built for another `variant`.
    public func acquire(plan: MemoryPlan? = nil, variant: String = "") throws -> Value {
        if let value, variant == builtVariant { return value }
        value = nil                       // the old placement's memory goes before the new one's arrives
        let v = try build(plan)
        value = v
        builtVariant = variant
        return v
    }

    /// Drops the value unless resident (or `force`d: "free memory").
    public func release(force: Bool = false) {
        if force || !resident { value = nil }
    }
}

/// What the generator does with every component alike, whatever it holds.
protocol ReleasableComponent: AnyObject {
    var requestedResident: Bool { get }
    func setResident(_ keep: Bool)
}

extension Component: ReleasableComponent {
    func setResident(_ keep: Bool) { resident = keep }
}
