"""Golden fixtures for the Wan2.1 VAE: the reference `WanVAE_` of the pinned wan22 wheel with
seeded weights that the Swift side regenerates bit for bit (no weight file is committed).

    /opt/refvenv/bin/python scripts/reference/make_vae_fixtures.py            # CI fixtures (dim 8)
    /opt/refvenv/bin/python scripts/reference/make_vae_fixtures.py --full DIR # real width (dim 96), not committed
    /opt/refvenv/bin/python scripts/reference/make_vae_fixtures.py --compare REF.safetensors OUT.safetensors NAME

Weights (mirrored by Sources/Models/WanVAE/WanVAERandomWeights.swift): one counter-based stream over
the state dict in key order; element i of the whole dict (tensor k starts where tensor k-1 ends) is
    z = splitmix64(seed, i);  t = (z >> 40)·2^-23 − 1   (exact in f32, in [-1, 1))
    *.gamma -> 1 + 0.25·t;  *.bias -> 0.05·t;  *.weight -> t · f32(gain/√fan_in)
with fan_in = shape[1]·prod(shape[2:]), gain 2 for attention's to_qkv (logits of RMS ≈ 4/3, so the
softmax is far from uniform) and 1 elsewhere. All arithmetic in f32.

Writes Tests/ModelsTests/Fixtures/vae_<case>_io.safetensors (`z` and `video`; for decode cases z is
the input, for encode cases video is) and vae_keys_dim96.txt (the real checkpoint's key set:
"name shape" per line, in state-dict order).
"""
import argparse
import math
import os
from collections import OrderedDict

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import wan_reference

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")

MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
       3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]

# name, dim, weight seed, mode, input shape ([16,T,h,w] latent for decode, [3,F,H,W] video for encode)
CASES = [
    ("dec_square", 8, 1, "decode", (16, 3, 8, 8)),
    ("dec_wide", 8, 2, "decode", (16, 2, 6, 10)),
    ("enc_square", 8, 3, "encode", (3, 9, 32, 32)),
    ("enc_wide", 8, 4, "encode", (3, 5, 48, 80)),
]
FULL_CASES = [
    ("dec_square", 96, 5, "decode", (16, 3, 8, 8)),
    ("dec_wide", 96, 5, "decode", (16, 2, 6, 10)),
    ("enc_square", 96, 5, "encode", (3, 9, 64, 64)),
]

M64 = (1 << 64) - 1


def splitmix64(seed, index):
    """index: uint64 array of element counters -> uint64 array."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (index + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def seeded_state_dict(shapes, seed):
    """shapes: OrderedDict name -> shape, in state-dict order."""
    out = OrderedDict()
    start = 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) if len(shape) else 1
        z = splitmix64(seed, np.arange(start, start + n, dtype=np.uint64))
        t = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1)
        if name.endswith(".gamma"):
            v = np.float32(1) + np.float32(0.25) * t
        elif name.endswith(".bias"):
            v = np.float32(0.05) * t
        else:
            fan_in = shape[1] * int(np.prod(shape[2:]))
            gain = 2.0 if name.endswith("to_qkv.weight") else 1.0
            v = t * np.float32(gain / math.sqrt(fan_in))
        assert v.dtype == np.float32
        out[name] = torch.from_numpy(v.reshape(shape).copy())
        start += n
    return out


def make_model(vae_mod, dim):
    return vae_mod.WanVAE_(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                           temperal_downsample=[False, True, True], dropout=0.0).eval()


def run_case(vae_mod, name, dim, seed, mode, shape, out_dir, weights_path=None):
    model = make_model(vae_mod, dim)
    shapes = OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())
    sd = seeded_state_dict(shapes, seed)
    model.load_state_dict(sd, strict=True)
    if weights_path:
        torch.save(sd, weights_path)   # the layout of Wan2.1_VAE.pth: the module's state dict
    scale = [torch.tensor(MEAN), 1.0 / torch.tensor(STD)]
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        if mode == "decode":
            z = torch.randn(*shape, generator=g)
            video = model.decode(z[None], scale).float().clamp_(-1, 1)[0]
        else:
            video = torch.rand(*shape, generator=g) * 2 - 1
            z = model.encode(video[None], scale).float()[0]
    path = os.path.join(out_dir, f"vae_{name}_io.safetensors")
    save_file({"z": z.contiguous(), "video": video.contiguous()}, path)
    print(f"{name} (dim {dim}, seed {seed}): z {tuple(z.shape)} video {tuple(video.shape)} "
          f"|z| {z.norm():.4f} |video| {video.norm():.4f} -> {path}")
    return shapes


def compare(ref_path, out_path, name):
    ref = load_file(ref_path)[name].double()
    out = load_file(out_path)["out" if "out" in load_file(out_path) else name].double()
    assert ref.shape == out.shape, f"shape {tuple(out.shape)} vs reference {tuple(ref.shape)}"
    err = ((out - ref).norm() / ref.norm()).item()
    print(f"{name}: relative L2 error {err:.3e}, max abs {(out - ref).abs().max().item():.3e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="write the real-width (dim 96) cases and weights to DIR")
    ap.add_argument("--compare", nargs=3, metavar=("REF", "OUT", "NAME"))
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    vae_mod = wan_reference.load("vae2_1")
    torch.manual_seed(0)
    if args.full:
        os.makedirs(args.full, exist_ok=True)
        for i, (name, dim, seed, mode, shape) in enumerate(FULL_CASES):
            wpath = os.path.join(args.full, f"wan21_vae_dim{dim}_seed{seed}.pth") if i == 0 else None
            run_case(vae_mod, name, dim, seed, mode, shape, args.full, wpath)
        return
    os.makedirs(OUT, exist_ok=True)
    for name, dim, seed, mode, shape in CASES:
        run_case(vae_mod, name, dim, seed, mode, shape, OUT)
    # The real checkpoint's key set and shapes (no weights): strict loading is checked against it.
    with torch.device("meta"):
        real = make_model(vae_mod, 96)
    with open(os.path.join(OUT, "vae_keys_dim96.txt"), "w") as f:
        for k, v in real.state_dict().items():
            f.write(f"{k} {','.join(str(d) for d in v.shape)}\n")


if __name__ == "__main__":
    main()
