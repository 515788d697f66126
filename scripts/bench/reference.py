#!/usr/bin/env python3
"""The PyTorch reference stack on the same GPU, for `turbodiffusion bench dit` ratios.

Runs the official Wan DiT module (the `wan22` wheel's wan/modules/model.py, loaded as in
scripts/reference/wan_reference.py) with seeded random bf16 weights, PyTorch's scaled-dot-product
attention for dense attention, on the shapes `turbodiffusion bench dit` uses, and prints one line:

    reference dit <preset> <frames> <W>x<H> <attention>: median S s over N (min S); TFLOP/s T

`pipeline` (reference_pipeline.py) times every stage `turbodiffusion bench pipeline` prints.

Usage on the GPU machine (wheels carried in .whl, see docs/performance.md):
    python3 scripts/bench/reference.py dit --preset wan2.1-1.3b --frames 81 --size 832x480
    python3 scripts/bench/reference.py pipeline --preset wan2.1-1.3b-480p [--attention_type sla]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))

PRESETS = {
    "wan2.1-1.3b": dict(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30, in_dim=16, out_dim=16),
    "wan2.1-14b": dict(dim=5120, ffn_dim=13824, num_heads=40, num_layers=40, in_dim=16, out_dim=16),
    "wan2.2-i2v-a14b": dict(dim=5120, ffn_dim=13824, num_heads=40, num_layers=40, in_dim=36, out_dim=16),
}


def install_sdpa(wan_reference):
    """Dense attention as the released inference runs it on Hopper without flash-attn: SDPA, no mask
    when every key is real (a mask would force the slow kernels)."""
    import types
    mod = types.ModuleType("wanref.modules.attention")

    def flash_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, softmax_scale=None, q_scale=None,
                        causal=False, window_size=(-1, -1), deterministic=False, dtype=torch.bfloat16, version=None):
        qt, kt, vt = (t.transpose(1, 2).to(dtype) for t in (q, k, v))
        mask = None
        if k_lens is not None and int(k_lens.min()) < k.shape[1]:
            ar = torch.arange(k.shape[1], device=q.device)
            mask = (ar[None, :] < k_lens.to(q.device)[:, None])[:, None, None, :]
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, scale=softmax_scale)
        return out.transpose(1, 2).contiguous()

    mod.flash_attention = flash_attention
    mod.attention = flash_attention
    sys.modules["wanref.modules.attention"] = mod


def shim_diffusers():
    """wan/modules/model.py subclasses diffusers' ModelMixin/ConfigMixin only for saving configs; the
    GPU machine has no diffusers, so plain stand-ins are installed (forward is untouched)."""
    import types
    if "diffusers" in sys.modules:
        return
    try:
        import diffusers  # noqa: F401
        return
    except ImportError:
        pass
    cu, mu = types.ModuleType("diffusers.configuration_utils"), types.ModuleType("diffusers.models.modeling_utils")

    class ConfigMixin:
        pass

    cu.ConfigMixin = ConfigMixin
    cu.register_to_config = lambda f: f
    mu.ModelMixin = torch.nn.Module
    sys.modules.update({"diffusers": types.ModuleType("diffusers"), "diffusers.configuration_utils": cu,
                        "diffusers.models": types.ModuleType("diffusers.models"), "diffusers.models.modeling_utils": mu})


def dit(args):
    shim_diffusers()
    import wan_reference
    wan_reference.load("model")           # builds the private package
    install_sdpa(wan_reference)
    for name in list(sys.modules):
        if name == "wanref.modules.model":
            del sys.modules[name]
    model_mod = wan_reference.load("model")
    cfg = PRESETS[args.preset]
    torch.manual_seed(args.seed)
    with torch.device("cuda"):
        model = model_mod.WanModel(model_type="t2v" if cfg["in_dim"] == 16 else "i2v", patch_size=(1, 2, 2), text_len=512,
                                   freq_dim=256, text_dim=4096, window_size=(-1, -1), qk_norm=True, cross_attn_norm=True,
                                   eps=1e-6, **cfg)
    model = model.to(torch.bfloat16).eval()
    for p in model.parameters():
        p.data.uniform_(-1, 1).mul_(1 / max(1, p.shape[-1]) ** 0.5 if p.dim() >= 2 else 0.02)
    w, h = (int(v) for v in args.size.split("x"))
    t, lh, lw = (args.frames - 1) // 4 + 1, h // 8, w // 8
    seq_len = t * (lh // 2) * (lw // 2)
    x = [torch.randn(cfg["in_dim"], t, lh, lw, device="cuda", dtype=torch.bfloat16)]
    ctx = [torch.randn(32, 4096, device="cuda", dtype=torch.bfloat16)]
    tt = torch.tensor([988.0], device="cuda")
    times = []
    with torch.no_grad(), torch.amp.autocast("cuda", dtype=torch.bfloat16):
        for i in range(args.repeats + 1):
            torch.cuda.synchronize()
            start = time.perf_counter()
            out = model(x, tt, ctx, seq_len)
            torch.cuda.synchronize()
            if i > 0:
                times.append(time.perf_counter() - start)
    assert torch.isfinite(out[0]).all()
    times.sort()
    med = times[len(times) // 2]
    d, f, n, txt = cfg["dim"], cfg["ffn_dim"], seq_len, 512
    per_layer = 2 * n * 4 * d * d + 2 * n * 2 * d * d + 2 * txt * 2 * d * d + 2 * n * 2 * d * f + 4 * n * n * d + 4 * n * txt * d
    flops = per_layer * cfg["num_layers"] + 2 * txt * (4096 * d + d * d)
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"reference dit {args.preset} {args.frames} {args.size} original: median {med:.3f} s over {len(times)} "
          f"(min {times[0]:.3f}); {flops / 1e12:.1f} TFLOP → {flops / med / 1e12:.0f} TFLOP/s; peak {peak:.2f} GiB "
          f"({torch.cuda.get_device_name()}, torch {torch.__version__})")


def vae(args):
    """The official Wan2.1 VAE decoder (vae2_1.py, seeded random weights, bf16 as the reference
    pipeline runs it on a GPU) on a [16, T, H/8, W/8] latent; prints time and peak memory."""
    import wan_reference
    mod = wan_reference.load("vae2_1")
    torch.manual_seed(args.seed)
    with torch.device("cuda"):
        model = mod.WanVAE_(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                            temperal_downsample=[False, True, True], dropout=0.0)
    model = model.to(torch.bfloat16).eval()
    w, h = (int(v) for v in args.size.split("x"))
    t = (args.frames - 1) // 4 + 1
    z = torch.randn(1, 16, t, h // 8, w // 8, device="cuda", dtype=torch.bfloat16)
    scale = [torch.zeros(16, device="cuda", dtype=torch.bfloat16), torch.ones(16, device="cuda", dtype=torch.bfloat16)]
    times = []
    with torch.no_grad(), torch.amp.autocast("cuda", dtype=torch.bfloat16):
        for i in range(args.repeats + 1):
            torch.cuda.synchronize()
            start = time.perf_counter()
            video = model.decode(z, scale).float().clamp_(-1, 1)
            torch.cuda.synchronize()
            if i > 0:
                times.append(time.perf_counter() - start)
    assert video.shape[2] == args.frames, video.shape
    times.sort()
    print(f"reference vae-decode {args.frames} {args.size} bf16: median {times[len(times) // 2]:.3f} s over {len(times)} "
          f"(min {times[0]:.3f}); peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB ({torch.cuda.get_device_name()})")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    d = sub.add_parser("dit")
    d.add_argument("--preset", default="wan2.1-1.3b", choices=sorted(PRESETS))
    d.add_argument("--frames", type=int, default=81)
    d.add_argument("--size", default="832x480")
    d.add_argument("--repeats", type=int, default=3)
    d.add_argument("--seed", type=int, default=0)
    v = sub.add_parser("vae")
    v.add_argument("--frames", type=int, default=81)
    v.add_argument("--size", default="832x480")
    v.add_argument("--repeats", type=int, default=2)
    v.add_argument("--seed", type=int, default=0)
    import reference_pipeline
    reference_pipeline.add_arguments(sub.add_parser("pipeline"))
    args = ap.parse_args()
    {"dit": dit, "vae": vae, "pipeline": reference_pipeline.pipeline}[args.what](args)


if __name__ == "__main__":
    main()
