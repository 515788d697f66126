import Checkpoints
import TensorCore

/// Architecture of the Wan2.1 video VAE (docs/vae.md): a causal 3-D conv autoencoder with stride
/// 4 (time) × 8 × 8 (space). The released `Wan2.1_VAE.pth` has dim 96, z 16, mult [1, 2, 4, 4],
/// 2 residual blocks per level and temporal downsampling in the last two levels.
public struct WanVAEConfig: Equatable, Sendable, CustomStringConvertible {
    /// Base channel count (level widths are dim·mult).
    public var dim: Int
    /// Latent channels (the encoder produces 2·z: mean and log-variance).
    public var zDim: Int
    public var dimMult: [Int] = [1, 2, 4, 4]
    public var numResBlocks: Int = 2
    /// Per encoder level transition: whether it halves time too (the decoder mirrors it).
    public var temporalDownsample: [Bool] = [false, true, true]
    /// Image channels.
    public var imageChannels: Int = 3
    /// Per-channel latent statistics: z = (μ − mean)/std. The released VAE's by default; a
    /// model trained here (models/demo) brings its own.
    public var mean: [Double] = WanVAEConfig.latentMean
    public var std: [Double] = WanVAEConfig.latentStd

    public init(dim: Int = 96, zDim: Int = 16) {
        self.dim = dim
        self.zDim = zDim
    }

    /// The released Wan2.1 VAE (also used by Wan2.2-A14B).
    public static let wan21 = WanVAEConfig(dim: 96, zDim: 16)

    /// Latent statistics of the released VAE: z = (μ − mean)/std (docs/vae.md).
    public static let latentMean: [Double] = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                                              0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
    public static let latentStd: [Double] = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                                             3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]

    /// Spatial stride of the latent grid (2 per level transition).
    public var spatialStride: Int { 1 << (dimMult.count - 1) }
    /// Temporal stride (2 per temporal level transition): 4 for the released VAE.
    public var temporalStride: Int { 1 << temporalDownsample.filter { $0 }.count }

    /// Frames a latent of `latentFrames` decodes to: 1 + 4·(T − 1).
    public func videoFrames(latentFrames t: Int) -> Int { t <= 0 ? 0 : 1 + temporalStride * (t - 1) }
    /// Latent frames of a video of `frames` = 4n + 1 frames: n + 1 (nil when frames is not of that form).
    public func latentFrames(videoFrames f: Int) -> Int? {
        f >= 1 && (f - 1) % temporalStride == 0 ? 1 + (f - 1) / temporalStride : nil
    }

    /// Encoder level widths: [dim] + dim·mult.
    var encoderDims: [Int] { [dim] + dimMult.map { dim * $0 } }
    /// Decoder level widths: dim·mult.last, then dim·mult reversed.
    var decoderDims: [Int] { [dim * dimMult.last!] + dimMult.reversed().map { dim * $0 } }
    /// The decoder's temporal upsampling per level transition (the encoder's, reversed).
    var temporalUpsample: [Bool] { temporalDownsample.reversed() }

    public var description: String {
        "Wan VAE dim \(dim), z \(zDim), mult \(dimMult), \(numResBlocks) res blocks, stride \(temporalStride)×\(spatialStride)×\(spatialStride)"
    }
}

// MARK: - The checkpoint's key set

extension WanVAEConfig {
    /// Every parameter of `WanVAE_`'s state dict with its shape, in PyTorch's registration order
    /// (encoder, conv1, conv2, decoder). The loaders read exactly these keys.
    public var parameterShapes: [(name: String, shape: [Int])] {
        var out: [(String, [Int])] = []
        func conv(_ key: String, _ o: Int, _ i: Int, _ k: [Int]) {
            out.append(("\(key).weight", [o, i] + k))
            out.append(("\(key).bias", [o]))
        }
        func norm(_ key: String, _ c: Int, image: Bool = false) { out.append(("\(key).gamma", image ? [c, 1, 1] : [c, 1, 1, 1])) }
        func res(_ key: String, _ i: Int, _ o: Int) {
            norm("\(key).residual.0", i)
            conv("\(key).residual.2", o, i, [3, 3, 3])
            norm("\(key).residual.3", o)
            conv("\(key).residual.6", o, o, [3, 3, 3])
            if i != o { conv("\(key).shortcut", o, i, [1, 1, 1]) }
        }
        func attn(_ key: String, _ c: Int) {
            norm("\(key).norm", c, image: true)
            conv("\(key).to_qkv", 3 * c, c, [1, 1])
            conv("\(key).proj", c, c, [1, 1])
        }
        // Encoder.
        let ed = encoderDims
        conv("encoder.conv1", ed[0], imageChannels, [3, 3, 3])
        var index = 0
        for level in 0..<dimMult.count {
            var inDim = ed[level]
            for _ in 0..<numResBlocks {
                res("encoder.downsamples.\(index)", inDim, ed[level + 1]); index += 1
                inDim = ed[level + 1]
            }
            if level != dimMult.count - 1 {
                conv("encoder.downsamples.\(index).resample.1", inDim, inDim, [3, 3])
                if temporalDownsample[level] { conv("encoder.downsamples.\(index).time_conv", inDim, inDim, [3, 1, 1]) }
                index += 1
            }
        }
        let top = ed.last!
        res("encoder.middle.0", top, top)
        attn("encoder.middle.1", top)
        res("encoder.middle.2", top, top)
        norm("encoder.head.0", top)
        conv("encoder.head.2", 2 * zDim, top, [3, 3, 3])
        conv("conv1", 2 * zDim, 2 * zDim, [1, 1, 1])
        conv("conv2", zDim, zDim, [1, 1, 1])
        // Decoder.
        let dd = decoderDims
        conv("decoder.conv1", dd[0], zDim, [3, 3, 3])
        res("decoder.middle.0", dd[0], dd[0])
        attn("decoder.middle.1", dd[0])
        res("decoder.middle.2", dd[0], dd[0])
        index = 0
        for level in 0..<dimMult.count {
            // Levels after an upsampling start from half the previous width (the resample halves it).
            var inDim = level == 0 ? dd[0] : dd[level] / 2
            for _ in 0...numResBlocks {
                res("decoder.upsamples.\(index)", inDim, dd[level + 1]); index += 1
                inDim = dd[level + 1]
            }
            if level != dimMult.count - 1 {
                if temporalUpsample[level] {
                    conv("decoder.upsamples.\(index).resample.1", inDim / 2, inDim, [3, 3])
                    conv("decoder.upsamples.\(index).time_conv", 2 * inDim, inDim, [3, 1, 1])
                } else {
                    conv("decoder.upsamples.\(index).resample.1", inDim / 2, inDim, [3, 3])
                }
                index += 1
            }
        }
        norm("decoder.head.0", dd.last!)
        conv("decoder.head.2", imageChannels, dd.last!, [3, 3, 3])
        return out
    }
}
