"""Shared pieces: the reference Wan modules, batched DiT/VAE/T5 calls, SLA, the rCM sampler.

The network definitions are the pip `wan22==2.2.11` reference modules (wan/modules/{model,t5,vae2_1}.py),
imported unchanged as a private package, as scripts/reference/wan_reference.py does. Where `wan` is not
installed (the GPU machine), `WAN_MODULES` names a folder holding copies of those files (made by
`train_all.py --stage prepare`, never committed). Two speed-ups replace functions, not weights or math:
rope_apply is vectorised over the batch (same float64 complex product), and each self-attention calls
either dense SDPA or SLA (scripts/reference/sla_reference.py) on the same q, k, v.
"""
import importlib
import importlib.util
import math
import os
import shutil
import sys
import tempfile
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "reference"))
import sla_reference  # noqa: E402

MODULE_FILES = ("model.py", "t5.py", "vae2_1.py")
_PKG = None


def module_source():
    src = os.environ.get("WAN_MODULES")
    if src:
        return src
    spec = importlib.util.find_spec("wan")
    if spec is None:
        raise SystemExit("wan22 is not installed and WAN_MODULES is not set (run --stage prepare where wan22 is)")
    return os.path.join(os.path.dirname(spec.origin), "modules")


def copy_modules(dest):
    """The module files from module_source() into `dest` (made if missing); nothing to do for a file that is
    already there (train_all.py points WAN_MODULES at the work folder's copy when it has one)."""
    src = module_source()
    os.makedirs(dest, exist_ok=True)
    for f in MODULE_FILES:
        if os.path.abspath(os.path.join(src, f)) != os.path.abspath(os.path.join(dest, f)):
            shutil.copy(os.path.join(src, f), dest)


def _stubs():
    """Minimal stand-ins for imports the three module files make but we never use."""
    try:
        import diffusers.configuration_utils  # noqa: F401
        import diffusers.models.modeling_utils  # noqa: F401
    except ImportError:
        cu, mu = types.ModuleType("diffusers.configuration_utils"), types.ModuleType("diffusers.models.modeling_utils")
        cu.ConfigMixin, cu.register_to_config = object, (lambda f: f)
        mu.ModelMixin = nn.Module
        sys.modules.update({"diffusers": types.ModuleType("diffusers"), "diffusers.configuration_utils": cu,
                            "diffusers.models": types.ModuleType("diffusers.models"),
                            "diffusers.models.modeling_utils": mu})
    tok = types.ModuleType("demoref.modules.tokenizers")
    tok.HuggingfaceTokenizer = None  # t5.py imports it; we tokenise with sentencepiece ourselves
    sys.modules["demoref.modules.tokenizers"] = tok
    att = types.ModuleType("demoref.modules.attention")

    def flash_attention(q, k, v, q_lens=None, k_lens=None, **kw):
        # q, k, v: [B, L, N, D] -> [B, Lq, N, D]; unmasked (cross-attention is not masked upstream).
        assert q_lens is None and k_lens is None
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                              scale=kw.get("softmax_scale")).transpose(1, 2)
    att.flash_attention = att.attention = flash_attention
    sys.modules["demoref.modules.attention"] = att


def load(name):
    global _PKG
    if _PKG is None:
        src = module_source()
        root = tempfile.mkdtemp(prefix="demoref-")
        pkg = os.path.join(root, "demoref", "modules")
        os.makedirs(pkg)
        open(os.path.join(root, "demoref", "__init__.py"), "w").close()
        open(os.path.join(pkg, "__init__.py"), "w").close()
        for f in MODULE_FILES:
            shutil.copy(os.path.join(src, f), pkg)
        sys.path.insert(0, root)
        if not torch.cuda.is_available():
            torch.cuda.current_device = lambda: 0
        _stubs()
        _PKG = root
        mod = importlib.import_module("demoref.modules.model")
        mod.rope_apply = rope_apply_batched
    return importlib.import_module(f"demoref.modules.{name}")


def rope_apply_batched(x, grid_sizes, freqs):
    """Upstream rope_apply for a batch whose samples share one grid and have no padding."""
    n, c = x.size(2), x.size(3) // 2
    f, h, w = grid_sizes[0].tolist()
    assert x.size(1) == f * h * w
    fr = freqs.split([c - 2 * (c // 3), c // 3, c // 3], dim=1)
    table = torch.cat([fr[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1),
                       fr[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
                       fr[2][:w].view(1, 1, w, -1).expand(f, h, w, -1)], dim=-1).reshape(1, f * h * w, 1, -1)
    xc = torch.view_as_complex(x.to(torch.float64).reshape(*x.shape[:3], -1, 2))
    return torch.view_as_real(xc * table).flatten(3).float()


# ---- DiT ------------------------------------------------------------------------------------------------
ATTN = {"mode": "dense", "topk": 0.5, "blkq": 16, "blkk": 16}


def self_attn_forward(self, x, seq_lens, grid_sizes, freqs):
    """WanSelfAttention.forward with a choice of attention. x: [B, L, C] -> [B, L, C]."""
    b, s, n, d = *x.shape[:2], self.num_heads, self.head_dim
    q = self.norm_q(self.q(x)).view(b, s, n, d)
    k = self.norm_k(self.k(x)).view(b, s, n, d)
    v = self.v(x).view(b, s, n, d)
    q, k = rope_apply_batched(q, grid_sizes, freqs), rope_apply_batched(k, grid_sizes, freqs)
    q, k, v = (t.transpose(1, 2).to(v.dtype) for t in (q, k, v))                 # [B, N, L, D]
    if ATTN["mode"] == "sla":
        p = self.attn_op.local_attn.proj_l
        o = sla_reference.sla(q.float(), k.float(), v.float(), p.weight.float(), p.bias.float(),
                              ATTN["topk"], ATTN["blkq"], ATTN["blkk"])
    else:
        o = F.scaled_dot_product_attention(q, k, v)
    return self.o(o.transpose(1, 2).flatten(2).to(x.dtype))


def make_dit(cfg, in_dim):
    mod = load("model")
    net = mod.WanModel(model_type="i2v" if in_dim == 36 else "t2v", patch_size=(1, 2, 2), text_len=512,
                       in_dim=in_dim, dim=cfg["dim"], ffn_dim=cfg["ffn_dim"], freq_dim=cfg["freq_dim"],
                       text_dim=cfg["text_dim"], out_dim=16, num_heads=cfg["num_heads"],
                       num_layers=cfg["num_layers"], window_size=(-1, -1), qk_norm=True, cross_attn_norm=True,
                       eps=1e-6)
    hd = cfg["dim"] // cfg["num_heads"]
    for blk in net.blocks:
        sa = blk.self_attn
        sa.attn_op = nn.Module()
        sa.attn_op.local_attn = nn.Module()
        sa.attn_op.local_attn.proj_l = nn.Linear(hd, hd)
        nn.init.zeros_(sa.attn_op.local_attn.proj_l.weight)   # upstream initialises proj_l to zero
        nn.init.zeros_(sa.attn_op.local_attn.proj_l.bias)
        sa.forward = types.MethodType(self_attn_forward, sa)
    return net


def net_timestep(r):
    """The engine calls the net with 1000·r rounded to bf16."""
    return (1000 * r).to(torch.bfloat16).float()


def dit(net, x, r, ctx, y=None):
    """x: [B, 16, F, H, W], r: [B] in [0, 1], ctx: list of [L_i, text_dim] -> v [B, 16, F, H, W] fp32."""
    return dit_forward_batched(net, x, net_timestep(r), ctx, y)


def dit_forward_batched(net, x, t, ctx, y=None):
    """WanModel.forward for a batch of equal-sized unpadded samples, without its per-sample Python loops
    (patch embedding, context padding, unpatchify), which dominate the step time of a 4-layer model at
    batch 256. Same modules, same operations per sample; `test_batched_forward` checks it against
    `net(list(x), ...)`. x: [B, C, F, H, W], t: [B] (net timesteps) -> [B, out_dim, F, H, W] fp32."""
    mod = load("model")
    if net.freqs.device != x.device:
        net.freqs = net.freqs.to(x.device)
    if y is not None:
        x = torch.cat([x, y.to(x.dtype)], 1)
    x = net.patch_embedding(x)                                      # [B, dim, f, h, w]
    b, (f, h, w) = x.shape[0], x.shape[2:]
    seq = f * h * w
    grid_sizes = torch.tensor([[f, h, w]] * b, dtype=torch.long)
    seq_lens = torch.full((b,), seq, dtype=torch.long)
    x = x.flatten(2).transpose(1, 2)                                # [B, L, dim]
    tt = t[:, None].expand(b, seq)                                  # per-token timesteps, all equal
    with torch.amp.autocast("cuda", dtype=torch.float32):
        e = net.time_embedding(mod.sinusoidal_embedding_1d(net.freq_dim, tt.flatten()).unflatten(0, (b, seq)).float())
        e0 = net.time_projection(e).unflatten(2, (6, net.dim))
    context = torch.nn.utils.rnn.pad_sequence(list(ctx), batch_first=True)
    context = F.pad(context, (0, 0, 0, net.text_len - context.shape[1]))   # zero rows up to text_len
    context = net.text_embedding(context)
    for block in net.blocks:
        x = block(x, e=e0, seq_lens=seq_lens, grid_sizes=grid_sizes, freqs=net.freqs, context=context,
                  context_lens=None)
    x = net.head(x, e)                                              # [B, L, 4·out_dim]
    c, (pf, ph, pw) = net.out_dim, net.patch_size
    x = x.view(b, f, h, w, pf, ph, pw, c)
    x = torch.einsum("bfhwpqrc->bcfphqwr", x).reshape(b, c, f * pf, h * ph, w * pw)
    return x.float()


def check_batched_forward(cfg, device):
    """dit_forward_batched against WanModel.forward itself on random weights (T2V and I2V): the max abs
    difference must stay at rounding level, else training would optimise a different network."""
    gen = torch.Generator().manual_seed(3)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False   # compare in full fp32
    try:
        return _check_batched_forward(cfg, device, gen)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32


def _check_batched_forward(cfg, device, gen):
    for in_dim in (16, 36):
        net = make_dit(cfg, in_dim).to(device).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            b = 4
            x = torch.randn(b, 16, 5, 8, 8, generator=gen).to(device)
            y = torch.randn(b, 20, 5, 8, 8, generator=gen).to(device) if in_dim == 36 else None
            t = net_timestep(torch.rand(b, generator=gen)).to(device)
            ctx = [torch.randn(n, cfg["text_dim"], generator=gen).to(device) for n in (3, 9, 17, 5)]
            ref = torch.stack(net(list(x), t[:, None].expand(b, 80), ctx, 80, y=None if y is None else list(y)))
            err = (dit_forward_batched(net, x, t, ctx, y) - ref).abs().max().item()
        if err > 1e-4 * max(1.0, ref.abs().max().item()):
            raise SystemExit(f"batched DiT forward differs from WanModel.forward by {err} (in_dim {in_dim})")
    return err


# ---- T5 -------------------------------------------------------------------------------------------------
def make_t5(cfg):
    return load("t5").T5Encoder(vocab=cfg["vocab"], dim=cfg["dim"], dim_attn=cfg["dim"], dim_ffn=cfg["ffn"],
                                num_heads=cfg["heads"], num_layers=cfg["layers"], num_buckets=32, shared_pos=False,
                                dropout=0.0)


def encode_text(t5, ids, lens):
    """ids [B, Lmax] (pad 0, '</s>' included), lens [B] -> list of [len_i, dim]: the rows the engine passes."""
    mask = (torch.arange(ids.shape[1], device=ids.device)[None] < lens[:, None]).long()
    out = t5(ids, mask).float()
    return [o[:n] for o, n in zip(out, lens.tolist())]


# ---- VAE ------------------------------------------------------------------------------------------------
def make_vae(dim):
    return load("vae2_1").WanVAE_(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                  temperal_downsample=[False, True, True], dropout=0.0)


def vae_encode(vae, x):
    """WanVAE_.encode's causal chunk loop (1, 4, 4, ... frames), returning mu and log_var. x: [B,3,T,H,W]."""
    vae.clear_cache()
    outs = []
    for i in range(1 + (x.shape[2] - 1) // 4):
        vae._enc_conv_idx = [0]
        chunk = x[:, :, :1] if i == 0 else x[:, :, 1 + 4 * (i - 1):1 + 4 * i]
        outs.append(vae.encoder(chunk, feat_cache=vae._enc_feat_map, feat_idx=vae._enc_conv_idx))
    mu, log_var = vae.conv1(torch.cat(outs, 2)).chunk(2, dim=1)
    vae.clear_cache()
    return mu, log_var


def vae_decode(vae, z):
    """z (unnormalised): [B,16,T,h,w] -> [B,3,4T-3,H,W], as WanVAE_.decode (not clamped)."""
    return vae.decode(z, [0.0, 1.0])


# ---- rCM sampler (DESIGN §6), a transcription of the engine's loop -----------------------------------------
def rcm_rs(steps, sigma_max):
    s = [math.atan(sigma_max), 1.5, 1.4, 1.0][:steps] + [0.0]
    return [math.sin(a) / (math.sin(a) + math.cos(a)) for a in s]


def rcm_sample(vfn, noise, steps, sigma_max, gen_noise, ode=False):
    """vfn(x, r[B]) -> v. noise: [B,...] ε0; gen_noise() -> fresh ε_i. Returns x̂0 of the last step."""
    rs = rcm_rs(steps, sigma_max)
    x = rs[0] * noise.double()
    for i in range(steps):
        r = torch.full((x.shape[0],), rs[i], device=x.device)
        v = vfn(x.float(), r).double()
        x0 = x - rs[i] * v
        if ode:
            x = x - (rs[i] - rs[i + 1]) * v
        else:
            x = (1 - rs[i + 1]) * x0 + rs[i + 1] * gen_noise().double()
    return x.float()


def ode_solve(vfn, x, r_from, r_to=0.0, steps=32):
    """Euler ODE of dx/dr = v from r_from [B] (per sample) to r_to, uniform in r. Returns x at r_to."""
    x = x.float()
    for i in range(steps):
        a = r_from + (r_to - r_from) * (i / steps)
        b = r_from + (r_to - r_from) * ((i + 1) / steps)
        v = vfn(x, a)
        x = x + (b - a).view(-1, *[1] * (x.dim() - 1)) * v
    return x
