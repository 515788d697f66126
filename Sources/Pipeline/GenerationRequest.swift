/// Everything one generation needs besides the models. Defaults are upstream's T2V defaults.
public struct GenerationRequest: Sendable {
    /// What the video shows.
    public var prompt: String
    /// I2V only: the first frame, as interleaved RGB8 pixels of `imageSize`; nil for T2V.
    public var image: [UInt8]?
    /// Size of `image` in pixels.
    public var imageSize: VideoSize?
    /// Output size (width × height, multiples of 16); for I2V with adaptive resolution, already adapted.
    public var size: VideoSize = VideoSize(width: 832, height: 480)
    /// Frames of video, 4n + 1 (81 = 5 s at 16 fps).
    public var frames: Int = 81
    /// Videos generated from the same prompt; they are tiled side by side in the output.
    public var samples: Int = 1
    /// Network evaluations per sample, 1–4.
    public var steps: Int = 4
    /// Initial noise level of rCM (T2V 80, I2V 200).
    public var sigmaMax: Double = 80
    /// Deterministic ODE updates instead of the default SDE (fresh noise each step).
    public var ode: Bool = false
    /// I2V: the high-noise expert runs while r ≥ boundary, then the low-noise one.
    public var boundary: Double = 0.9
    /// Seed of the Philox noise: the same seed gives the same video on any machine and backend.
    public var seed: UInt64 = 0

    public init(prompt: String) { self.prompt = prompt }

    /// Why this request cannot run, or nil.
    public var problem: String? {
        if let p = VideoGeometry.problem(frames: frames, size: size) { return p }
        if !(1...4).contains(steps) { return "--num_steps must be 1, 2, 3 or 4 (rCM is distilled for few steps), got \(steps)" }
        if samples < 1 { return "--num_samples must be at least 1, got \(samples)" }
        if !(sigmaMax > 0) { return "--sigma_max must be positive, got \(sigmaMax)" }
        if !(boundary >= 0 && boundary <= 1) { return "--boundary must lie in [0, 1], got \(boundary)" }
        if let image, let s = imageSize, image.count != s.width * s.height * 3 {
            return "the image has \(image.count) bytes, expected \(s.width)×\(s.height)×3"
        }
        return nil
    }
}

/// A finished video: RGB8 frames (samples tiled side by side), ready to encode.
public struct GeneratedVideo: Sendable {
    public let frames: [[UInt8]]
    public let width: Int, height: Int
    public let fps: Int
}
