/// An 8-bit RGB image: `pixels` holds `height` rows of `width` pixels, each pixel R, G, B (no padding).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Wraps interleaved RGB bytes; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw MediaError.invalidArgument("image size must be positive, got \(width)x\(height)")
        }
        guard pixels.count == width * height * 3 else {
            throw MediaError.invalidArgument(
                "an RGB image of \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int) {
        precondition(width > 0 && height > 0, "image size must be positive")
        self.width = width
        self.height = height
        self.pixels = [UInt8](repeating: 0, count: width * height * 3)
    }

    /// Unchecked initialiser for decoders that built `pixels` themselves.
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        assert(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// What to do with an alpha channel (PNG gray+alpha, RGBA, palette or colour-key transparency).
public enum AlphaHandling: Sendable {
    /// Keep the colour values and drop alpha: what PIL's `Image.convert("RGB")` does, and so what the
    /// upstream I2V script sees. The default.
    case discard
    /// Composite over black: c·a/255 (rounded).
    case overBlack
    /// Composite over white: c·a/255 + 255·(1 − a/255) (rounded).
    case overWhite

    @inline(__always)
    func apply(_ c: UInt8, alpha a: UInt8) -> UInt8 {
        switch self {
        case .discard: return c
        case .overBlack: return UInt8((Int(c) * Int(a) + 127) / 255)
        case .overWhite:
            let ci = Int(c), ai = Int(a)
            let sum: Int = ci * ai + 255 * (255 - ai) + 127
            return UInt8(sum / 255)
        }
    }
}
