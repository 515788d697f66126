import Checkpoints
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import TensorCore

/// Rewrites a floating-point Wan DiT state dict into TurboDiffusion's quantized layout:
/// every block Linear that W8A8 runs (self/cross q, k, v, o and ffn.0/ffn.2) becomes
/// "<key>.int8_weight" i8 [out, in] + "<key>.scale" f32 [⌈out/128⌉, ⌈in/128⌉]; the 5-D patch
/// weight becomes 2-D [dim, in·4]; everything else is kept as stored.
public enum DiTQuantizer {
    /// True for the weight keys upstream quantizes.
    public static func isQuantizedLayer(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        guard parts.count >= 4, parts[0] == "blocks", Int(parts[1]) != nil, parts.last == "weight" else { return false }
        let layer = parts[2...].dropLast().joined(separator: ".")
        return ["self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2"].contains(layer)
    }

    /// Quantizes one tensor at a time, so memory stays at one layer beyond the input mapping.
    /// `progress(done, total)` is called after each tensor.
    public static func quantize(_ tensors: [NamedTensor], progress: (Int, Int) -> Void = { _, _ in }) throws -> [NamedTensor] {
        if let q = tensors.first(where: { $0.name.hasSuffix(".int8_weight") }) {
            throw ModelLoadError.unsupported("the checkpoint is already quantized ('\(q.name)'); nothing to do")
        }
        guard tensors.contains(where: { $0.name == "patch_embedding.weight" }) else {
            throw ModelLoadError.unsupported("not a Wan DiT state dict: no 'patch_embedding.weight' (strip any key prefix first)")
        }
        var out: [NamedTensor] = []
        for (i, t) in tensors.enumerated() {
            let x = t.tensor
            if isQuantizedLayer(t.name) {
                guard x.rank == 2, x.dtype.isFloatingPoint else {
                    throw ModelLoadError.unsupported("'\(t.name)' is \(x.dtype)\(x.shape); expected a 2-D float weight")
                }
                let dense = try x.floats()
                let (values, scales) = dense.withUnsafeBufferPointer {
                    BlockQuantization.quantize($0.baseAddress!, rows: x.shape[0], cols: x.shape[1])
                }
                let base = String(t.name.dropLast(".weight".count))
                let blk = BlockQuantization.block
                out.append(NamedTensor(name: base + ".int8_weight",
                                       tensor: try Tensor.host(values.map(Float.init), shape: x.shape, dtype: .i8)))
                out.append(NamedTensor(name: base + ".scale",
                                       tensor: try Tensor.host(scales, shape: [(x.shape[0] + blk - 1) / blk, (x.shape[1] + blk - 1) / blk])))
            } else if t.name == "patch_embedding.weight" && x.rank == 5 {
                let flat = x.isContiguous ? x : try Tensor.host(x.floats(), shape: x.shape, dtype: x.dtype)
                out.append(NamedTensor(name: t.name, tensor: try flat.reshaped([x.shape[0], -1])))
            } else {
                out.append(t)
            }
            progress(i + 1, tensors.count)
        }
        return out
    }
}
