import TensorCore

/// The tensors a Wan DiT checkpoint holds, by key, in the order upstream's state dict lists them.
/// Used to synthesise full-size checkpoints for memory measurements and to check that the
/// loader and the published key set agree (a test loads a file built from this list).
extension WanDiTConfig {
    public enum Layout: Sendable {
        /// Official Wan: 5-D patch weight [dim, in, 1, 2, 2], no SLA projections.
        case official
        /// TurboDiffusion: 2-D patch weight [dim, in·4] and a proj_l [D, D] per block.
        case turbo
    }

    public func checkpointTensors(_ layout: Layout) -> [(key: String, shape: [Int])] {
        var t: [(key: String, shape: [Int])] = []
        func linear(_ key: String, in i: Int, out o: Int) {
            t.append(("\(key).weight", [o, i]))
            t.append(("\(key).bias", [o]))
        }
        t.append(("patch_embedding.weight", layout == .official ? [dim, inChannels, 1, 2, 2] : [dim, inChannels * 4]))
        t.append(("patch_embedding.bias", [dim]))
        linear("text_embedding.0", in: textDim, out: dim)
        linear("text_embedding.2", in: dim, out: dim)
        linear("time_embedding.0", in: frequencyDim, out: dim)
        linear("time_embedding.2", in: dim, out: dim)
        linear("time_projection.1", in: dim, out: 6 * dim)
        for n in 0..<numLayers {
            let b = "blocks.\(n)"
            t.append(("\(b).modulation", [1, 6, dim]))
            for part in ["self_attn", "cross_attn"] {
                for p in ["q", "k", "v", "o"] { linear("\(b).\(part).\(p)", in: dim, out: dim) }
                t.append(("\(b).\(part).norm_q.weight", [dim]))
                t.append(("\(b).\(part).norm_k.weight", [dim]))
                if part == "self_attn" && layout == .turbo {
                    linear("\(b).self_attn.attn_op.local_attn.proj_l", in: headDim, out: headDim)
                }
            }
            t.append(("\(b).norm3.weight", [dim]))
            t.append(("\(b).norm3.bias", [dim]))
            linear("\(b).ffn.0", in: dim, out: ffnDim)
            linear("\(b).ffn.2", in: ffnDim, out: dim)
        }
        t.append(("head.modulation", [1, 2, dim]))
        linear("head.head", in: dim, out: headOutFeatures)
        return t
    }

    /// Parameters of the model (SLA projections excluded).
    public var parameterCount: Int {
        checkpointTensors(.official).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }
}
