"""Golden fixtures for the Wan DiT: tiny random models run through the reference WanModel.

Run with the pinned environment (requirements.txt):  python scripts/reference/make_dit_fixtures.py
Writes Tests/ModelsTests/Fixtures/dit_<case>.{safetensors|pth} (weights),
dit_<case>_io.safetensors (x, t, context, out).
"""
import os
from collections import OrderedDict

import torch
from safetensors.torch import save_file

import sla_reference
import w8a8_reference
import wan_reference

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")

# SLA settings of the cases that run it: (top-k ratio, BLKQ, BLKK); small blocks so tiny inputs have several.
SLA = {"sla_hd64": (0.25, 16, 8)}
# Cases whose block Linears (q/k/v/o of both attentions, ffn.0/ffn.2) run W8A8.
QUANTIZED = {"quant_hd128"}

# name, seed, config, latent shape (C, F, H, W), context rows, timestep, weight dtype, layout
CASES = [
    ("t2v_hd64", 1, dict(model_type="t2v", dim=128, ffn_dim=192, num_heads=2, num_layers=2, in_dim=16,
                         out_dim=16, text_dim=32, text_len=16), (16, 3, 4, 6), 7, 988.0, torch.float32, "official"),
    ("i2v_hd128", 2, dict(model_type="i2v", dim=128, ffn_dim=160, num_heads=1, num_layers=2, in_dim=36,
                          out_dim=16, text_dim=32, text_len=12), (36, 2, 6, 4), 5, 608.0, torch.bfloat16, "turbo"),
    ("t2v_bf16_odd", 3, dict(model_type="t2v", dim=128, ffn_dim=192, num_heads=2, num_layers=1, in_dim=16,
                             out_dim=16, text_dim=32, text_len=16), (16, 2, 10, 6), 16, 852.0, torch.bfloat16, "official"),
    ("sla_hd64", 4, dict(model_type="t2v", dim=128, ffn_dim=192, num_heads=2, num_layers=2, in_dim=16,
                         out_dim=16, text_dim=32, text_len=16), (16, 3, 8, 10), 9, 932.0, torch.bfloat16, "turbo"),
    ("quant_hd128", 5, dict(model_type="t2v", dim=256, ffn_dim=320, num_heads=2, num_layers=1, in_dim=16,
                            out_dim=16, text_dim=32, text_len=16), (16, 1, 18, 16), 6, 996.0, torch.bfloat16, "turbo"),
]


def quantized_layers(net):
    for i, blk in enumerate(net.blocks):
        for part in ("self_attn", "cross_attn"):
            for proj in "qkvo":
                yield f"blocks.{i}.{part}.{proj}", getattr(getattr(blk, part), proj)
        yield f"blocks.{i}.ffn.0", blk.ffn[0]
        yield f"blocks.{i}.ffn.2", blk.ffn[2]


def use_w8a8(net):
    """Quantizes the block Linears and makes them run the W8A8 transcription."""
    stored = {}
    for name, lin in quantized_layers(net):
        w_q, w_s = w8a8_reference.quantize_blocks(lin.weight.detach())
        stored[name] = (w_q, w_s)
        lin.forward = (lambda self, x, w_q=w_q, w_s=w_s: w8a8_reference.w8a8_linear(x, w_q, w_s, self.bias)).__get__(lin)
    return stored


def use_sla(model_mod, net, topk, blkq, blkk, variant=sla_reference.sla, new_projections=True):
    """Swaps every block's self-attention for an SLA transcription (sla or sagesla), with a random proj_l each."""
    def forward(self, x, seq_lens, grid_sizes, freqs):
        b, s, n, d = *x.shape[:2], self.num_heads, self.head_dim
        q = model_mod.rope_apply(self.norm_q(self.q(x)).view(b, s, n, d), grid_sizes, freqs)
        k = model_mod.rope_apply(self.norm_k(self.k(x)).view(b, s, n, d), grid_sizes, freqs)
        v = self.v(x).view(b, s, n, d)
        o = variant(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                              self.proj_w, self.proj_b, topk, blkq, blkk).transpose(1, 2)
        return self.o(o.flatten(2))
    d = net.dim // net.num_heads
    for blk in net.blocks:
        attn = blk.self_attn
        attn.forward = forward.__get__(attn)
        if not new_projections:
            continue
        attn.proj_w = (torch.randn(d, d) * 0.2).to(torch.bfloat16).float()
        attn.proj_b = (torch.randn(d) * 0.1).to(torch.bfloat16).float()


def make_sla_op_fixture():
    """A standalone SLA call with partial blocks on both sides (L = 150, blocks 32 × 16)."""
    torch.manual_seed(11)
    q, k, v = (torch.randn(1, 2, 150, 64) for _ in range(3))
    w, b = torch.randn(64, 64) * 0.2, torch.randn(64) * 0.1
    topk, blkq, blkk = 0.3, 32, 16
    out = sla_reference.sla(q, k, v, w, b, topk, blkq, blkk)
    blocks = sla_reference.block_map(q, k, topk, blkq, blkk)
    save_file({"q": q, "k": k, "v": v, "proj_w": w, "proj_b": b, "out": out.contiguous(),
               "block_map": blocks.to(torch.int32).contiguous(),
               "settings": torch.tensor([topk, blkq, blkk], dtype=torch.float32)},
              os.path.join(OUT, "sla_op.safetensors"))
    print(f"sla_op: kept {int(blocks[0, 0, 0].sum())} of {blocks.shape[-1]} key blocks per query block")


def make_sagesla_op_fixture():
    """A standalone SageSLA call with partial blocks on both sides (L = 150, blocks 16 × 32)."""
    torch.manual_seed(12)
    q, k, v = (torch.randn(1, 2, 150, 64) for _ in range(3))
    v = v * torch.linspace(0.2, 3, 64)           # channels of different range: the per-channel V scale matters
    w, b = torch.randn(64, 64) * 0.2, torch.randn(64) * 0.1
    topk, blkq, blkk = 0.4, 16, 32
    out = sla_reference.sagesla(q, k, v, w, b, topk, blkq, blkk)
    exact = sla_reference.sla(q, k, v, w, b, topk, blkq, blkk)
    save_file({"q": q, "k": k, "v": v.contiguous(), "proj_w": w, "proj_b": b, "out": out.contiguous(),
               "settings": torch.tensor([topk, blkq, blkk], dtype=torch.float32)},
              os.path.join(OUT, "sagesla_op.safetensors"))
    rel = ((out - exact).norm() / exact.norm()).item()
    print(f"sagesla_op: relative L2 distance to exact SLA {rel:.2e}")


def main():
    model_mod = wan_reference.load("model")
    os.makedirs(OUT, exist_ok=True)
    for name, seed, cfg, shape, ctx_rows, t, wdtype, layout in CASES:
        torch.manual_seed(seed)
        net = model_mod.WanModel(patch_size=(1, 2, 2), freq_dim=256, eps=1e-6, cross_attn_norm=True, **cfg).eval()
        # Random values everywhere (upstream zero-initialises the head): every path must matter.
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn_like(p) * (0.5 / max(p.shape[-1], 1) ** 0.5 if p.dim() > 1 else 0.3))
                p.copy_(p.to(wdtype).float())   # the reference computes with exactly the stored values
        if name in SLA:
            use_sla(model_mod, net, *SLA[name])
        quantized = use_w8a8(net) if name in QUANTIZED else {}
        x = torch.randn(*shape)
        context = torch.randn(ctx_rows, cfg["text_dim"])
        with torch.no_grad():
            seq_len = shape[1] * shape[2] // 2 * shape[3] // 2
            if cfg["model_type"] == "i2v":   # the reference concatenates noise (16 ch) with the condition y
                out = net([x[:16]], t=torch.tensor([t]), context=[context], seq_len=seq_len, y=[x[16:]])[0]
            else:
                out = net([x], t=torch.tensor([t]), context=[context], seq_len=seq_len)[0]
        if name in SLA:
            # The same weights and inputs through SageSLA (8-bit sparse branch).
            use_sla(model_mod, net, *SLA[name], variant=sla_reference.sagesla, new_projections=False)
            with torch.no_grad():
                sage = net([x], t=torch.tensor([t]), context=[context], seq_len=seq_len)[0]
            save_file({"x": x.contiguous(), "t": torch.tensor([t]), "context": context.contiguous(), "out": sage.contiguous()},
                      os.path.join(OUT, f"dit_{name}_sagesla_io.safetensors"))
            print(f"{name} sagesla: relative L2 distance to sla {((sage - out).norm() / out.norm()).item():.2e}")
        sd = OrderedDict((k, v.detach().clone()) for k, v in net.state_dict().items())
        if layout == "turbo":
            # TurboDiffusion layout: 2-D patch weight, fp32 norms, SLA projections per block.
            sd["patch_embedding.weight"] = sd["patch_embedding.weight"].reshape(cfg["dim"], -1).contiguous()
            for i, blk in enumerate(net.blocks):
                d = cfg["dim"] // cfg["num_heads"]
                w = getattr(blk.self_attn, "proj_w", torch.randn(d, d) * 0.05)
                bias = getattr(blk.self_attn, "proj_b", torch.randn(d) * 0.05)
                sd[f"blocks.{i}.self_attn.attn_op.local_attn.proj_l.weight"] = w.clone()
                sd[f"blocks.{i}.self_attn.attn_op.local_attn.proj_l.bias"] = bias.clone()
            sd = OrderedDict((k, v if ("norm" in k or "modulation" in k) else v.to(wdtype)) for k, v in sd.items())
            for layer, (w_q, w_s) in quantized.items():
                # TurboDiffusion's quantized layout: int8_weight + scale replace the weight.
                items = list(sd.items())
                at = [k for k, _ in items].index(f"{layer}.weight")
                items[at:at + 1] = [(f"{layer}.int8_weight", w_q), (f"{layer}.scale", w_s)]
                sd = OrderedDict(items)
            torch.save(sd, os.path.join(OUT, f"dit_{name}.pth"))
        else:
            save_file({k: v.to(wdtype).contiguous() for k, v in sd.items()}, os.path.join(OUT, f"dit_{name}.safetensors"))
        save_file({"x": x.contiguous(), "t": torch.tensor([t]), "context": context.contiguous(), "out": out.contiguous()},
                  os.path.join(OUT, f"dit_{name}_io.safetensors"))
        print(f"{name}: out {tuple(out.shape)} |out| {out.norm():.4f}")
    make_sla_op_fixture()
    make_sagesla_op_fixture()


if __name__ == "__main__":
    main()
