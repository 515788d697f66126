import Dispatch
import SystemSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), a counter-based
/// generator: block n of stream s is a pure function of (seed, s, n), so a seed gives the same
/// numbers on every machine, in any order and from any thread. Normals use Box–Muller in double
/// precision rounded to Float (glibc's double log/sin/cos are correctly rounded in practice, so
/// the rounded Floats agree across machines).
public struct Philox: Sendable {
    public let seed: UInt64
    /// Independent sequences under one seed (e.g. the initial noise and the noise of each step).
    public let stream: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// The 10-round bijection of one counter under one key.
    public static func block(counter c: (UInt32, UInt32, UInt32, UInt32), key k: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = c
        var (k0, k1) = k
        for round in 0..<10 {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let p0 = UInt64(0xD251_1F53) * UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        }
        return (c0, c1, c2, c3)
    }

    /// Four 32-bit words of block `n` of this stream.
    @inline(__always)
    func words(_ n: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        Self.block(counter: (UInt32(truncatingIfNeeded: n), UInt32(truncatingIfNeeded: n >> 32),
                             UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
                   key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// A 32-bit word as a uniform in the open interval (0, 1).
    @inline(__always)
    static func unit(_ w: UInt32) -> Double { (Double(w) + 0.5) / 4_294_967_296 }

    /// `count` standard normals starting at element `offset` of the stream (block n gives
    /// elements 4n…4n+3: two Box–Muller pairs), so any slice can be generated independently.
    /// Large requests (a video latent: millions) are split over threads by blocks; the values do
    /// not depend on the split.
    public func normals(count: Int, offset: Int = 0) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        guard count > 0 else { return out }
        let firstBlock = offset / 4, blocks = (offset + count - 1) / 4 - firstBlock + 1
        let pieces = blocks < 1 << 14 ? 1 : 16
        let perPiece = (blocks + pieces - 1) / pieces
        out.withUnsafeMutableBufferPointer { buffer in
            // Each piece writes the elements of its own blocks.
            let target = UncheckedSendable(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: pieces) { k in
                let lo = firstBlock + k * perPiece, hi = min(firstBlock + blocks, lo + perPiece)
                guard lo < hi else { return }
                for n in lo..<hi {
                    let (a, b, c, d) = words(UInt64(n))
                    let (z0, z1) = Self.boxMuller(a, b), (z2, z3) = Self.boxMuller(c, d)
                    let values = (z0, z1, z2, z3)
                    for j in 0..<4 {
                        let i = 4 * n + j - offset
                        guard i >= 0 && i < count else { continue }
                        target.value[i] = j == 0 ? values.0 : j == 1 ? values.1 : j == 2 ? values.2 : values.3
                    }
                }
            }
        }
        return out
    }

    /// Uniforms in (0, 1), element n from word n % 4 of block n / 4.
    public func uniforms(count: Int, offset: Int = 0) -> [Double] {
        (0..<count).map { i in
            let e = offset + i
            let w = words(UInt64(e / 4))
            return Self.unit([w.0, w.1, w.2, w.3][e % 4])
        }
    }

    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let r = (-2 * log(unit(a))).squareRoot()
        let theta = 2 * Double.pi * unit(b)
        return (Float(r * cos(theta)), Float(r * sin(theta)))
    }
}

/// Philox as a Swift `RandomNumberGenerator` (two 64-bit outputs per block), for code that wants
/// `Float.random(in:using:)` and friends with a seed. Shared by the test suites.
public struct PhiloxGenerator: RandomNumberGenerator, Sendable {
    private let philox: Philox
    private var block: UInt64 = 0
    private var pending: UInt64?

    public init(seed: UInt64, stream: UInt64 = 0) { philox = Philox(seed: seed, stream: stream) }

    public mutating func next() -> UInt64 {
        if let p = pending {
            pending = nil
            return p
        }
        let w = philox.words(block)
        block &+= 1
        pending = UInt64(w.2) << 32 | UInt64(w.3)
        return UInt64(w.0) << 32 | UInt64(w.1)
    }
}
