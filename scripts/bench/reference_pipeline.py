"""`reference.py pipeline`: the stages of `turbodiffusion bench pipeline` on the PyTorch reference stack.

The official Wan modules of the `wan22` wheel (umT5-XXL encoder t5.py, DiT model.py, Wan2.1 VAE
vae2_1.py), seeded random weights at the real sizes built on the GPU, bf16 (autocast) as the
released inference runs on a GPU. Dense attention is PyTorch's SDPA; `sla` is TurboDiffusion's
SparseLinearAttention (its Triton kernel, BLKQ 128 / BLKK 64 as upstream's inference sets) imported
from an ignored copy of upstream's `turbodiffusion/SLA` package (--sla_dir, default `.whl`, holding
`SLA/`). `sagesla` needs SpargeAttn's compiled extension (spas_sage_attn) and `--quant_linear` needs
TurboDiffusion's compiled `turbo_diffusion_ops`; neither is carried, so those are refused / noted.

Prints a table and the same machine-readable lines as ours:
    PEAK gemm_tflops X
    STAGE name seconds tflop peak_bytes          (peak_bytes -1 where no device memory is involved)
    SKIP name reason                             (a stage that could not run here)
"""
import math
import os
import sys
import tempfile
import time
import types

import torch

SETUPS = {
    "wan2.1-1.3b-480p": ("wan2.1-1.3b", 832, 480, 1),
    "wan2.1-14b-720p": ("wan2.1-14b", 1280, 720, 1),
    "wan2.2-a14b-i2v-720p": ("wan2.2-i2v-a14b", 1280, 720, 2),
}
T5 = dict(vocab=256384, dim=4096, dim_attn=4096, dim_ffn=10240, num_heads=64, num_layers=24, num_buckets=32)
VAE_DIM, Z_DIM, MULT = 96, 16, [1, 2, 4, 4]
BOUNDARY = 0.9


# ---- FLOP counts: the same formulas as Sources/Models/Layers/FLOPCount.swift ----

def dit_flops(cfg, tokens, attention, topk, text_len=512, text_dim=4096, freq_dim=256):
    d, f, l, heads = cfg["dim"], cfg["ffn_dim"], tokens, cfg["num_heads"]
    hd = d // heads
    lin = 2 * l * d * 4 * d + 2 * l * d * 2 * d + 2 * text_len * d * 2 * d + 2 * 2 * l * d * f
    att = 4 * l * text_len * d
    if attention == "original":
        att += 4 * l * l * d
    else:
        bk = 64 if attention == "sla" else 128
        kb = (l + bk - 1) // bk
        kept = max(1, min(kb, int(topk * kb)))
        att += 4 * l * min(l, kept * bk) * d + 3 * 2 * l * hd * d
    outer = (2 * l * cfg["in_dim"] * 4 * d + 2 * text_len * text_dim * d + 2 * text_len * d * d + 2 * freq_dim * d
             + 2 * d * d + 2 * d * 6 * d + 2 * l * d * cfg["out_dim"] * 4)
    return (lin + att) * cfg["num_layers"] + outer


def t5_flops(tokens, layers):
    d, a, f = T5["dim"], T5["dim_attn"], T5["dim_ffn"]
    return layers * (2 * tokens * d * 4 * a + 3 * 2 * tokens * d * f + 4 * tokens * tokens * a)


def _conv(frames, h, w, cin, cout, taps):
    return 2 * frames * h * w * cin * cout * taps


def _res(frames, h, w, cin, cout):
    return _conv(frames, h, w, cin, cout, 27) + _conv(frames, h, w, cout, cout, 27) + (
        _conv(frames, h, w, cin, cout, 1) if cin != cout else 0)


def _middle_attention(frames, p, c):
    return frames * (2 * p * c * 3 * c + 2 * p * c * c + 4 * p * p * c)


def vae_decode_flops(t, h, w):
    dd = [VAE_DIM * MULT[-1]] + [VAE_DIM * m for m in reversed(MULT)]
    up_t = [True, True, False]
    n = _conv(t, h, w, Z_DIM, Z_DIM, 1) + _conv(t, h, w, Z_DIM, dd[0], 27)
    n += 2 * _res(t, h, w, dd[0], dd[0]) + _middle_attention(t, h * w, dd[0])
    for level in range(len(MULT)):
        c = dd[0] if level == 0 else dd[level] // 2
        for _ in range(3):
            n += _res(t, h, w, c, dd[level + 1])
            c = dd[level + 1]
        if level == len(MULT) - 1:
            break
        if up_t[level] and t > 1:
            n += _conv(t - 1, h, w, c, 2 * c, 3)
            t = 2 * t - 1
        h, w = 2 * h, 2 * w
        n += _conv(t, h, w, c, c // 2, 9)
    return n + _conv(t, h, w, dd[-1], 3, 27)


def vae_encode_flops(frames, h, w):
    ed = [VAE_DIM] + [VAE_DIM * m for m in MULT]
    down_t = [False, True, True]
    n = _conv(frames, h, w, 3, ed[0], 27)
    for level in range(len(MULT)):
        c = ed[level]
        for _ in range(2):
            n += _res(frames, h, w, c, ed[level + 1])
            c = ed[level + 1]
        if level == len(MULT) - 1:
            break
        h, w = (h + 1) // 2, (w + 1) // 2
        n += _conv(frames, h, w, c, c, 9)
        if down_t[level]:
            windows = (frames - 1) // 2
            n += _conv(windows, h, w, c, c, 3)
            frames = 1 + windows
    top = ed[-1]
    n += 2 * _res(frames, h, w, top, top) + _middle_attention(frames, h * w, top)
    return n + _conv(frames, h, w, top, 2 * Z_DIM, 27) + _conv(frames, h, w, 2 * Z_DIM, 2 * Z_DIM, 1)


# ---- timing ----

class Stages:
    """Rows of (name, seconds, flop, peak bytes); the device is drained around each stage."""

    def __init__(self):
        self.rows, self.skipped = [], []

    def begin(self):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return time.perf_counter()

    def end(self, name, start, flop, device=True):
        torch.cuda.synchronize()
        self.rows.append((name, time.perf_counter() - start, flop, torch.cuda.max_memory_allocated() if device else -1))


def gemm_peak():
    best, shape = 0.0, ""
    for m, n, k in [(8192, 8192, 8192), (16384, 8192, 4096)]:
        a = torch.rand(m, k, device="cuda", dtype=torch.bfloat16) * 2 - 1
        b = torch.rand(n, k, device="cuda", dtype=torch.bfloat16) * 2 - 1
        for _ in range(3):
            a @ b.T
        times = []
        for _ in range(10):
            torch.cuda.synchronize()
            s = time.perf_counter()
            a @ b.T
            torch.cuda.synchronize()
            times.append(time.perf_counter() - s)
        rate = 2 * m * n * k / sorted(times)[len(times) // 2]
        if rate > best:
            best, shape = rate, f"{m}x{n}x{k}"
    return best, shape


def random_init(model):
    """Uniform values scaled by 1/√fan_in for matrices, 0.02 for vectors (as `reference.py dit`)."""
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1, 1).mul_(1 / max(1, p[0].numel()) ** 0.5 if p.dim() >= 2 else 0.02)


def load_sla(args, head_dim):
    """TurboDiffusion's SLA module from the ignored upstream copy, or a SystemExit naming what is missing."""
    path = os.path.abspath(args.sla_dir)
    if not os.path.isfile(os.path.join(path, "SLA", "kernel.py")):
        raise SystemExit(f"--attention_type {args.attention_type}: no upstream SLA package at {path}/SLA "
                         "(copy thu-ml/TurboDiffusion's turbodiffusion/SLA there; see docs/performance.md)")
    try:
        import triton  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"the SLA reference kernel needs Triton: {e}")
    sys.path.insert(0, path)
    import SLA
    import SLA.core
    if args.attention_type == "sagesla":
        if not SLA.core.SAGESLA_ENABLED:
            raise SystemExit("sagesla: the reference needs SpargeAttn's compiled extension (spas_sage_attn), "
                             "which is not available here")
        module = SLA.SageSparseLinearAttention(head_dim=head_dim, topk=args.sla_topk)
    else:
        module = SLA.SparseLinearAttention(head_dim=head_dim, topk=args.sla_topk, BLKQ=128, BLKK=64)
    module = module.cuda()
    with torch.no_grad():
        module.proj_l.weight.uniform_(-1, 1).mul_(head_dim ** -0.5)
        module.proj_l.bias.uniform_(-0.02, 0.02)
    return module


def dit_module(args, sla):
    """wan/modules/model.py with SDPA, and the SLA module for self-attention when given (one module
    for every block: the same kernel work; cross-attention stays SDPA)."""
    import reference
    import wan_reference
    reference.shim_diffusers()
    wan_reference.load("model")
    reference.install_sdpa(wan_reference)
    sys.modules.pop("wanref.modules.model", None)
    mod = wan_reference.load("model")
    if sla is not None:
        sdpa, state = mod.flash_attention, types.SimpleNamespace(inside_self=False)
        original = mod.WanSelfAttention.forward

        def self_forward(self, *a, **kw):      # WanCrossAttention overrides forward, so it never sets this
            state.inside_self = True
            try:
                return original(self, *a, **kw)
            finally:
                state.inside_self = False

        def attention(q, k, v, **kw):          # q, k, v: [B, L, N, D] as SLA takes them
            return sla(q, k, v) if state.inside_self else sdpa(q, k, v, **kw)

        mod.WanSelfAttention.forward = self_forward
        mod.flash_attention = attention
    return mod


def pipeline(args):
    import reference
    import wan_reference
    preset, width, height, experts = SETUPS[args.preset]
    if args.size:
        width, height = (int(v) for v in args.size.split("x"))
    cfg = dict(reference.PRESETS[preset])
    if args.layers:
        cfg["num_layers"] = args.layers
    frames, steps = args.frames, args.num_steps
    t, lh, lw = (frames - 1) // 4 + 1, height // 8, width // 8
    tokens = t * (lh // 2) * (lw // 2)
    torch.manual_seed(args.seed)
    st = Stages()
    print(f"reference pipeline {args.preset}: {frames} frames {width}x{height}, {steps} steps, self-attention "
          f"{args.attention_type}{f' top-k {args.sla_topk}' if args.attention_type != 'original' else ''}, bf16; "
          f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    if args.quant_linear:
        print("note: reference linears stay bf16 (TurboDiffusion's Int8Linear needs its compiled turbo_diffusion_ops)")
    peak, shape = gemm_peak()
    print(f"GEMM peak: {peak / 1e12:.1f} TFLOP/s (bf16 {shape}, median of 10, torch.matmul)")
    print("warm-up: each model runs once before its timed stage; not counted below")
    ac = torch.amp.autocast("cuda", dtype=torch.bfloat16)

    # umT5-XXL: t5.py's encoder (its own init_weights draws the random values), 512 real tokens.
    tok = types.ModuleType("wanref.modules.tokenizers")
    tok.HuggingfaceTokenizer = None             # ids are random: the tokenizer (ftfy, transformers) is not needed
    sys.modules["wanref.modules.tokenizers"] = tok
    t5 = wan_reference.load("t5")
    with torch.device("cuda"):
        enc = t5.T5Encoder(**dict(T5, num_layers=args.layers or T5["num_layers"]), shared_pos=False, dropout=0.0)
    enc = enc.to(torch.bfloat16).eval().requires_grad_(False)
    ids = torch.randint(0, T5["vocab"], (1, 512), device="cuda")
    mask = torch.ones(1, 512, dtype=torch.long, device="cuda")
    with torch.no_grad():
        enc(ids, mask)
        s = st.begin()
        context = enc(ids, mask)[0]
        st.end("umt5_encode", s, t5_flops(512, args.layers or T5["num_layers"]))
    del enc
    torch.cuda.empty_cache()

    vae_mod = wan_reference.load("vae2_1")
    with torch.device("cuda"):
        vae = vae_mod.WanVAE_(dim=VAE_DIM, z_dim=Z_DIM, dim_mult=MULT, num_res_blocks=2, attn_scales=[],
                              temperal_downsample=[False, True, True], dropout=0.0)
    vae = vae.to(torch.bfloat16).eval().requires_grad_(False)
    scale = [torch.zeros(Z_DIM, device="cuda", dtype=torch.bfloat16), torch.ones(Z_DIM, device="cuda", dtype=torch.bfloat16)]
    cond = None
    if experts == 2:
        # The conditioning clip as wan's image2video builds it: the image, then F − 1 zero frames.
        clip = torch.zeros(1, 3, frames, height, width, device="cuda")
        clip[:, :, 0] = torch.rand(1, 3, height, width, device="cuda") * 2 - 1
        with torch.no_grad(), ac:
            vae.encode(clip[:, :, :5], scale)
            s = st.begin()
            latent = vae.encode(clip, scale).float()[0]
            msk = torch.zeros(4, t, lh, lw, device="cuda")
            msk[:, 0] = 1
            cond = torch.cat([msk, latent])
            st.end("vae_encode", s, vae_encode_flops(frames, height, width))
        del clip

    sla = load_sla(args, cfg["dim"] // cfg["num_heads"]) if args.attention_type != "original" else None
    model_mod = dit_module(args, sla)
    models = []
    for _ in range(experts):
        torch.set_default_dtype(torch.bfloat16)     # built in bf16: two fp32 14B experts would not fit beside each other
        try:
            with torch.device("cuda"):
                m = model_mod.WanModel(model_type="t2v" if cfg["in_dim"] == 16 else "i2v", patch_size=(1, 2, 2), text_len=512,
                                       freq_dim=256, text_dim=4096, window_size=(-1, -1), qk_norm=True, cross_attn_norm=True,
                                       eps=1e-6, **cfg)
        finally:
            torch.set_default_dtype(torch.float32)
        m = m.to(torch.bfloat16).eval().requires_grad_(False)
        random_init(m)
        models.append(m)
    # rCM: r from the angles [atan σmax, 1.5, 1.4, 1.0][:steps] + [0]; the network sees 1000·r.
    angles = [math.atan(80.0)] + [1.5, 1.4, 1.0][:steps - 1] + [0.0]
    r = [math.sin(a) / (math.cos(a) + math.sin(a)) for a in angles]
    flop = dit_flops(cfg, tokens, args.attention_type, args.sla_topk)

    def forward(x, expert, ri):
        tt = torch.tensor([1000 * ri], device="cuda").to(torch.bfloat16).float()
        return models[expert]([x], tt, [context], tokens, y=None if cond is None else [cond])[0]

    x = torch.randn(Z_DIM, t, lh, lw, device="cuda") * r[0]
    with torch.no_grad(), ac:
        for k in range(experts):
            forward(x, k, r[0] if k == 0 else r[steps - 1])
        for i in range(steps):
            expert = 1 if experts == 2 and r[i] < BOUNDARY else 0
            s = st.begin()
            v = forward(x, expert, r[i]).float()
            x = (x - v * r[i]) * (1 - r[i + 1]) + torch.randn_like(x) * r[i + 1]
            st.end(f"dit_step_{i + 1}" + ("" if experts == 1 else "_high" if expert == 0 else "_low"), s, flop)
    del models, m
    torch.cuda.empty_cache()

    with torch.no_grad(), ac:
        vae.decode(x[None, :, :2].to(torch.bfloat16), scale)
        s = st.begin()
        video = vae.decode(x[None].to(torch.bfloat16), scale).float().clamp_(-1, 1)[0]
        st.end("vae_decode", s, vae_decode_flops(t, lh, lw))
    mp4(st, video)
    report(st, peak)


def mp4(st, video):
    """wan's save_video path: uint8 frames on the host, imageio's ffmpeg writer (libx264, quality 8)."""
    try:
        import imageio
        path = os.path.join(tempfile.mkdtemp(), "reference.mp4")
        s = st.begin()
        frames = ((video + 1) / 2 * 255).round().to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()
        writer = imageio.get_writer(path, fps=16, codec="libx264", quality=8)
        for f in frames:
            writer.append_data(f)
        writer.close()
        st.end("mp4_write", s, 0, device=False)
        os.remove(path)
    except Exception as e:                         # no imageio / no ffmpeg on the GPU machine
        st.skipped.append(("mp4_write", f"{type(e).__name__}: {e}".replace("\n", " ")[:200]))


def report(st, peak):
    total = ("total", sum(r[1] for r in st.rows), sum(r[2] for r in st.rows), max(r[3] for r in st.rows))
    print(f"{'stage':20}   seconds      TFLOP   TFLOP/s  of peak   peak memory")
    for name, sec, flop, mem in st.rows + [total]:
        rate = flop / sec if sec > 0 else 0
        print(f"{name:20} {sec:9.3f} {flop / 1e12:10.2f} {rate / 1e12:9.1f} {100 * rate / peak:7.1f}%   "
              f"{'n/a' if mem < 0 else f'{mem / 2**30:.2f} GiB'}")
    print(f"PEAK gemm_tflops {peak / 1e12:.1f}")
    for name, sec, flop, mem in st.rows + [total]:
        print(f"STAGE {name} {sec:.6f} {flop / 1e12:.9g} {mem}")
    for name, why in st.skipped:
        print(f"SKIP {name} {why}")


def add_arguments(p):
    p.add_argument("--preset", default="wan2.1-1.3b-480p", choices=sorted(SETUPS))
    p.add_argument("--attention_type", "--attention-type", default="original", choices=["original", "sla", "sagesla"])
    p.add_argument("--sla_topk", "--sla-topk", type=float, default=0.1)
    p.add_argument("--quant_linear", "--quant-linear", action="store_true")
    p.add_argument("--num_steps", "--num-steps", type=int, default=4, choices=[1, 2, 3, 4])
    p.add_argument("--frames", type=int, default=81)
    p.add_argument("--size", help="WxH (default: the preset's)")
    p.add_argument("--layers", type=int, help="DiT and umT5 blocks (default: the models')")
    p.add_argument("--sla_dir", default=".whl", help="folder holding upstream's SLA package (SLA/__init__.py, core.py, kernel.py, utils.py)")
    p.add_argument("--seed", type=int, default=0)
