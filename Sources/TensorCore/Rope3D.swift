#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif

/// Wan's 3-D rotary position tables. A head of `headDim` has headDim/2 complex slots split
/// into temporal, height and width groups (for 128: 22, 21, 21 slots); slot j of a group with
/// `n` slots turns by position · 10000^(−j/n). Angles are computed in float64 like the reference.
public enum Rope3D {
    /// Slot counts (temporal, height, width) for a head dimension.
    public static func slotSplit(headDim: Int) -> (t: Int, h: Int, w: Int) {
        let hw = headDim / 6             // height and width each get 2·(d/6) dims = d/6 slots
        return ((headDim - 4 * hw) / 2, hw, hw)
    }

    /// cos and sin tables [F·H·W, headDim/2] for tokens in (f, h, w) order, positions from 0.
    public static func tables(frames: Int, height: Int, width: Int, headDim: Int) throws -> (cos: Tensor, sin: Tensor) {
        guard headDim % 2 == 0, headDim >= 6 else { throw TensorError.invalidArgument("rope head dimension \(headDim) must be even and ≥ 6") }
        let split = slotSplit(headDim: headDim)
        let half = headDim / 2
        func inverseFrequencies(_ n: Int) -> [Double] {
            (0..<n).map { j in 1 / pow(10000.0, Double(2 * j) / Double(2 * n)) }
        }
        let ft = inverseFrequencies(split.t), fh = inverseFrequencies(split.h), fw = inverseFrequencies(split.w)
        let count = frames * height * width
        var cosV = [Float](repeating: 0, count: count * half), sinV = cosV
        var token = 0
        for f in 0..<frames {
            for y in 0..<height {
                for x in 0..<width {
                    var slot = 0
                    for (pos, freqs) in [(f, ft), (y, fh), (x, fw)] {
                        for theta in freqs {
                            let angle = Double(pos) * theta
                            cosV[token * half + slot] = Float(Glibc.cos(angle))
                            sinV[token * half + slot] = Float(Glibc.sin(angle))
                            slot += 1
                        }
                    }
                    token += 1
                }
            }
        }
        return (try Tensor.host(cosV, shape: [count, half]), try Tensor.host(sinV, shape: [count, half]))
    }
}
