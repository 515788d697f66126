/// Output sizes and the latent shapes they imply (docs/pipeline.md).
public struct VideoSize: Equatable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
    public var description: String { "\(width)×\(height)" }
}

public enum Resolution: String, CaseIterable, Sendable {
    case p480 = "480p", p720 = "720p"
}

public enum AspectRatio: String, CaseIterable, Sendable {
    case wide = "16:9", tall = "9:16", classic = "4:3", portrait = "3:4", square = "1:1"
}

public enum VideoGeometry {
    /// VAE compression: 4× in time (frame 0 kept), 8× in space; the DiT patch is 1×2×2.
    public static let temporalStride = 4, spatialStride = 8, patch = 2

    /// Upstream's table of sizes (width × height).
    public static func size(_ r: Resolution, _ a: AspectRatio) -> VideoSize {
        switch (r, a) {
        case (.p480, .wide): VideoSize(width: 832, height: 480)
        case (.p480, .tall): VideoSize(width: 480, height: 832)
        case (.p480, .classic): VideoSize(width: 640, height: 480)
        case (.p480, .portrait): VideoSize(width: 480, height: 640)
        case (.p480, .square): VideoSize(width: 640, height: 640)
        case (.p720, .wide): VideoSize(width: 1280, height: 720)
        case (.p720, .tall): VideoSize(width: 720, height: 1280)
        case (.p720, .classic): VideoSize(width: 960, height: 720)
        case (.p720, .portrait): VideoSize(width: 720, height: 960)
        case (.p720, .square): VideoSize(width: 960, height: 960)
        }
    }

    /// I2V's adaptive resolution: keep the chosen size's area, follow the image's aspect ratio,
    /// round each side to a multiple of 16 (Python's round: halves to even, as upstream).
    public static func adaptive(area size: VideoSize, imageWidth: Int, imageHeight: Int) -> VideoSize {
        let area = Double(size.width * size.height)
        let ar = Double(imageHeight) / Double(imageWidth)
        let unit = Double(spatialStride * patch)
        let h = Int(((area * ar).squareRoot() / unit).rounded(.toNearestOrEven)) * Int(unit)
        let w = Int(((area / ar).squareRoot() / unit).rounded(.toNearestOrEven)) * Int(unit)
        return VideoSize(width: max(16, w), height: max(16, h))
    }

    /// Latent frames for `frames` video frames (4n + 1 ↦ n + 1).
    public static func latentFrames(_ frames: Int) -> Int { 1 + (frames - 1) / temporalStride }

    /// Latent [16, T, H/8, W/8] of a video.
    public static func latentShape(frames: Int, size: VideoSize, channels: Int = 16) -> [Int] {
        [channels, latentFrames(frames), size.height / spatialStride, size.width / spatialStride]
    }

    /// Why a size or frame count cannot be generated, or nil when it can.
    public static func problem(frames: Int, size: VideoSize) -> String? {
        if frames < 1 || (frames - 1) % temporalStride != 0 {
            let lower = max(1, (frames - 1) / temporalStride * temporalStride + 1)
            return "--num_frames must be 4n+1 (1, 5, …, 81), got \(frames); try \(lower) or \(lower + temporalStride)"
        }
        let unit = spatialStride * patch
        if size.width % unit != 0 || size.height % unit != 0 || size.width <= 0 || size.height <= 0 {
            return "the video size \(size) must be a positive multiple of \(unit) on both sides"
        }
        return nil
    }
}
