import Media
import Models
import TensorCore

public enum PipelineError: Error, CustomStringConvertible {
    case invalidRequest(String)
    case incompatible(String)
    /// A device ran out of memory during a stage; the generation stopped and its models were released.
    case outOfMemory(stage: GenerationStage, String)
    public var description: String {
        switch self {
        case let .invalidRequest(m): m
        case let .incompatible(m): m
        case let .outOfMemory(stage, m):
            "out of device memory during \(stage.rawValue): \(m); nothing was written and the models were released "
                + "(a smaller --max_vram, --quant_linear or a smaller size leaves more room)"
        }
    }
}

/// Text/image to video (docs/pipeline.md): encode the prompt, release the encoder; (I2V) encode the first
/// frame; run rCM with the DiT (I2V: high-noise expert while r ≥ boundary, then the low-noise one),
/// release it; decode each sample with the VAE. Components are built when their stage starts and
/// dropped after it unless resident, so peak memory is one stage's.
public final class VideoGenerator {
    public let textEncoder: Component<any PromptEncoder>
    public let vae: Component<any VideoAutoencoder>
    /// T2V: one model. I2V: the high-noise expert, then the low-noise one.
    public let experts: [Component<any VelocityModel>]
    public var fps = 16
    /// Plans device memory for a request before anything loads (docs/pipeline.md, "Memory"): throws to
    /// refuse the request, returns nil when no component computes on a device with a budget.
    public var planner: ((GenerationRequest) throws -> MemoryPlan?)?
    /// The plan of the latest generation.
    public private(set) var plan: MemoryPlan?

    /// Each component computes on its own backend; tensors cross between them through `transfer`.
    public init(textEncoder: Component<any PromptEncoder>, vae: Component<any VideoAutoencoder>,
                experts: [Component<any VelocityModel>]) {
        precondition(!experts.isEmpty && experts.count <= 2)
        self.textEncoder = textEncoder
        self.vae = vae
        self.experts = experts
    }

    /// Drops every component (the session's "free memory").
    public func releaseAll() {
        textEncoder.release(force: true)
        vae.release(force: true)
        for e in experts { e.release(force: true) }
    }

    /// Runs one request. A device out-of-memory error ends it as `PipelineError.outOfMemory` with every
    /// model released, so the process (an interactive session too) can go on with the next request.
    public func generate(_ r: GenerationRequest, progress: @escaping ProgressHandler = { _ in .proceed }) throws -> GeneratedVideo {
        if let p = r.problem { throw PipelineError.invalidRequest(p) }
        plan = nil
        let plan = try planner?(r)
        self.plan = plan
        // The session keeps models loaded only while the plan says they all fit together.
        let components: [any ReleasableComponent] = [textEncoder, vae] + experts
        for c in components { c.setResident(c.requestedResident && (plan?.keepResident ?? true)) }
        if plan.map({ !$0.keepResident }) ?? false { releaseAll() }
        let reporter = ProgressReporter(progress)
        defer { for e in experts { e.release() }; textEncoder.release(); vae.release() }
        do {
            return try run(r, plan: plan, reporter: reporter)
        } catch TensorError.outOfMemory(let message) {
            releaseAll()
            throw PipelineError.outOfMemory(stage: reporter.currentStage ?? .loadTextEncoder, message)
        }
    }

    func run(_ r: GenerationRequest, plan: MemoryPlan?, reporter: ProgressReporter) throws -> GeneratedVideo {

        // Each stage's component lives in its own scope: a local reference would keep its weights
        // alive (on the device too) through the later stages.
        let text: (tensor: Tensor, backend: any Backend) = try {
            try reporter.begin(.loadTextEncoder)
            let encoder = try textEncoder.acquire(plan: plan, variant: plan?.textEncoder.rawValue ?? "")
            try reporter.end()
            try reporter.begin(.encodeText)
            let encoded = try encoder.encode(r.prompt)
            try reporter.end()
            return (encoded, encoder.backend)
        }()
        textEncoder.release()

        let latentShape = VideoGeometry.latentShape(frames: r.frames, size: r.size)   // [16, T, h, w]
        var condition: Tensor?                                                       // [20, T, h, w] on the host
        if let image = r.image, let imageSize = r.imageSize {
            try reporter.begin(.loadVAE)
            let codec = try vae.acquire(plan: plan)
            try reporter.end()
            try reporter.begin(.encodeImage)
            condition = try imageCondition(image, imageSize, codec: codec, request: r, latentShape: latentShape,
                                           tiling: plan?.encodeTiling)
            try reporter.end()
            vae.release()
        }

        let latents = try denoise(r, text: text, condition: condition, latentShape: latentShape, plan: plan, reporter: reporter)

        try reporter.begin(.loadVAE)
        let codec = try vae.acquire(plan: plan)
        try reporter.end()
        try reporter.begin(.decode, steps: r.samples)
        let (w, h) = (r.size.width, r.size.height)
        let perSample = latentShape.reduce(1, *)
        var frames = [[UInt8]](repeating: [UInt8](repeating: 0, count: w * r.samples * h * 3), count: r.frames)
        for k in 0..<r.samples {
            let z = try codec.backend.upload(Tensor.host(Array(latents[(k * perSample)..<((k + 1) * perSample)]), shape: latentShape))
            let video = try codec.decode(z, tiling: plan?.decodeTiling, streaming: plan?.decodeStreaming ?? .reference)   // [3, F, H, W]
            guard video.shape == [3, r.frames, h, w] else {
                throw PipelineError.incompatible("the VAE decoded \(video.shape), expected [3, \(r.frames), \(h), \(w)]")
            }
            // Converted to bytes where it was decoded: a quarter of the f32 video crosses to the host.
            let bytes = try codec.backend.toHost(codec.backend.videoBytes(video))   // [F, H, W, 3] u8
            try Self.place(bytes, sample: k, of: r.samples, into: &frames, width: w, height: h)
            try reporter.step(k + 1, of: r.samples)
        }
        try reporter.end()
        vae.release()
        return GeneratedVideo(frames: frames, width: w * r.samples, height: h, fps: fps)
    }

    /// The rCM loop: the DiT (I2V: the expert for each step's noise level) predicts the velocity of
    /// every sample. Only one expert is held at a time, and none after the loop.
    func denoise(_ r: GenerationRequest, text: (tensor: Tensor, backend: any Backend), condition: Tensor?, latentShape: [Int],
                 plan: MemoryPlan?, reporter: ProgressReporter) throws -> [Float] {
        try reporter.begin(.loadDiT)
        var active = 0
        let variant = plan?.dit.rawValue ?? ""
        var model: (any VelocityModel)? = try experts[0].acquire(plan: plan, variant: variant)
        try checkChannels(model!, conditioned: condition != nil)
        var context = try transfer(text.tensor, from: text.backend, to: model!.backend)
        var modelCondition = try condition.map { try model!.backend.upload($0) }
        try reporter.end()

        let sampler = try RCMSampler(steps: r.steps, sigmaMax: r.sigmaMax, update: r.ode ? .ode : .sde)
        let perSample = latentShape.reduce(1, *)
        let evaluations = r.steps * r.samples
        var done = 0
        try reporter.begin(.denoise, steps: evaluations)
        // The batch is one latent of samples × perSample values, so sample k's noise is the slice
        // [k·perSample, (k+1)·perSample) of each Philox stream whatever the batch size.
        let latents = try sampler.sample(count: perSample * r.samples, noise: PhiloxNoise(seed: r.seed)) { x, step in
            let wanted = experts.count == 2 && step.r < r.boundary ? 1 : 0
            if wanted != active {
                let previous = model!.backend
                model = nil                      // the old expert's weights go before the new one's arrive
                experts[active].release()
                active = wanted
                model = try experts[active].acquire(plan: plan, variant: variant)
                try checkChannels(model!, conditioned: condition != nil)
                context = try transfer(context, from: previous, to: model!.backend)
                modelCondition = try modelCondition.map { try transfer($0, from: previous, to: model!.backend) }
            }
            let m = model!, backend = m.backend
            var v: [Float] = []
            for k in 0..<r.samples {
                // One sample (the usual case) is the whole latent: no slice copied in, none appended out.
                let latent = r.samples == 1 ? x : Array(x[(k * perSample)..<((k + 1) * perSample)])
                var input = try backend.upload(Tensor.host(latent, shape: latentShape))
                if let modelCondition { input = try backend.concat([input, modelCondition], dim: 0) }
                let out = try backend.toHost(m.velocity(x: input, timestep: step.timestep, context: context)).floats()
                if r.samples == 1 { v = out } else { v += out }
                done += 1
                try reporter.step(done, of: evaluations)
            }
            return v
        }
        try reporter.end()
        model = nil
        experts[active].release()
        return latents
    }

    func checkChannels(_ m: any VelocityModel, conditioned: Bool) throws {
        let expected = conditioned ? 36 : 16
        guard m.inChannels == expected else {
            throw PipelineError.incompatible(conditioned
                ? "image-to-video needs a DiT with 36 input channels (Wan2.2-I2V); this one takes \(m.inChannels)"
                : "text-to-video needs a DiT with 16 input channels; this one takes \(m.inChannels) (an I2V model? use i2v)")
        }
    }

    /// The I2V condition: the image resized to the output size as upstream does (torchvision's
    /// antialiased bilinear on uint8, exact), in [-1, 1], followed by F − 1 zero
    /// frames, VAE-encoded (16 channels), behind a 4-channel mask that is 1 on latent frame 0.
    func imageCondition(_ image: [UInt8], _ imageSize: VideoSize, codec: any VideoAutoencoder, request r: GenerationRequest,
                        latentShape: [Int], tiling: VAETiling? = nil) throws -> Tensor {
        let (w, h) = (r.size.width, r.size.height)
        let source = try RGBImage(width: imageSize.width, height: imageSize.height, pixels: image)
        let planar = try FrameConversion.conditioningImage(source, width: w, height: h)   // [3, H, W] in [-1, 1]
        var video = [Float](repeating: 0, count: 3 * r.frames * h * w)                  // [3, F, H, W]
        for c in 0..<3 {
            for p in 0..<(h * w) { video[c * r.frames * h * w + p] = planar[c * h * w + p] }
        }
        let latent = try codec.backend.toHost(codec.encode(codec.backend.upload(Tensor.host(video, shape: [3, r.frames, h, w])),
                                                           tiling: tiling))
        guard latent.shape == latentShape else {
            throw PipelineError.incompatible("the VAE encoded the image to \(latent.shape), expected \(latentShape)")
        }
        let (t, lh, lw) = (latentShape[1], latentShape[2], latentShape[3])
        var mask = [Float](repeating: 0, count: 4 * t * lh * lw)
        for c in 0..<4 { for p in 0..<(lh * lw) { mask[c * t * lh * lw + p] = 1 } }
        return try Tensor.host(mask + latent.floats(), shape: [4 + latentShape[0], t, lh, lw])
    }

    /// Copies one sample's frames ([F, H, W, 3] u8 on the host) into its column of the side-by-side
    /// frames (sample k of n occupies columns k·w ..< (k+1)·w).
    static func place(_ bytes: Tensor, sample k: Int, of n: Int, into frames: inout [[UInt8]], width w: Int, height h: Int) throws {
        try bytes.withUnsafeBytes { src in
            for t in 0..<frames.count {
                frames[t].withUnsafeMutableBytes { out in
                    for y in 0..<h {
                        let from = ((t * h + y) * w) * 3, to = (y * w * n + k * w) * 3
                        out.baseAddress!.advanced(by: to).copyMemory(from: src.baseAddress!.advanced(by: from), byteCount: w * 3)
                    }
                }
            }
        }
    }
}
