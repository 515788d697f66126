/// The sizes of a 3-D convolution (`Backend.conv3d`), checked as every backend checks them:
/// `init` validates ranks, strides and paddings; `resolve()` the channel count and the output size.
/// Two steps, so a backend can check its dtypes in between and report errors in the same order.
public struct ConvolutionGeometry: Sendable {
    public let batch, inChannels, outChannels: Int
    /// (T, H, W) of the input, of the kernel, and (after `resolve`) of the output.
    public let input: [Int], kernel: [Int]
    public private(set) var output: [Int] = []

    public init(x: Tensor, weight: Tensor, stride: [Int], padding: [Padding]) throws {
        try self.init(xShape: x.shape, weight: weight, stride: stride, padding: padding)
    }

    /// The geometry for an input of shape `xShape` (an input given in parts, such as frames to be
    /// concatenated, has no tensor of its own).
    public init(xShape: [Int], weight: Tensor, stride: [Int], padding: [Padding]) throws {
        guard xShape.count == 5, weight.rank == 5, stride.count == 3, padding.count == 3, stride.allSatisfy({ $0 >= 1 }),
              padding.allSatisfy({ $0.before >= 0 && $0.after >= 0 }) else {
            throw TensorError.invalidArgument("conv3d needs x [B,C,T,H,W], weight [O,C,kt,kh,kw], 3 strides ≥ 1, 3 non-negative paddings; got \(xShape), \(weight.shape), \(stride), \(padding)")
        }
        (batch, inChannels, outChannels) = (xShape[0], xShape[1], weight.shape[0])
        input = Array(xShape[2...])
        kernel = Array(weight.shape[2...])
        self.weightChannels = weight.shape[1]
        self.stride = stride
        self.padding = padding
        self.shapes = (xShape, weight.shape)
    }

    private let weightChannels: Int
    private let stride: [Int]
    private let padding: [Padding]
    private let shapes: (x: [Int], weight: [Int])

    /// Checks that weight and x agree on the channels and that the kernel fits the padded input; sets `output`.
    public mutating func resolve() throws {
        guard weightChannels == inChannels else {
            throw TensorError.shapeMismatch("conv3d weight \(shapes.weight) expects \(weightChannels) input channels, x has \(inChannels) (\(shapes.x))")
        }
        output = []
        for d in 0..<3 {
            let span = input[d] + padding[d].before + padding[d].after - kernel[d]
            guard span >= 0 else {
                throw TensorError.shapeMismatch("conv3d kernel \(kernel) larger than padded input \(input) in dim \(d)")
            }
            output.append(span / stride[d] + 1)
        }
    }

    /// Output positions per batch item and channel (T'·H'·W').
    public var plane: Int { output.reduce(1, *) }
    /// The GEMM's inner dimension, C·kt·kh·kw.
    public var taps: Int { inChannels * kernel.reduce(1, *) }
}
