#!/usr/bin/env python3
"""The implicit-GEMM convolution (Sources/BackendCUDA/Kernels/implicit_conv.cu) against PyTorch's
conv3d (cuDNN) on the Wan2.1 VAE decoder's shapes at 480p, on the GPU machine, without Swift:
CuPy compiles the kernel source with NVRTC for several pipeline settings (CG_KSUB, CG_STAGES), and
each setting is checked against an fp32 conv3d of the same bf16 operands and timed beside cuDNN.

    python3 scripts/cuda/bench_conv.py [--variants 1x4,2x3] [--repeat 10]
"""
import argparse, os
import cupy as cp
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
# (name, C, O, kernel, input T, H, W, padding (t, h, w)) — one causal step of the decoder each.
CASES = [
    ("res 384 60x104 T1", 384, 384, (3, 3, 3), 3, 60, 104, (0, 1, 1)),
    ("res 384 120x208 T2", 384, 384, (3, 3, 3), 4, 120, 208, (0, 1, 1)),
    ("res 192 240x416 T4", 192, 192, (3, 3, 3), 6, 240, 416, (0, 1, 1)),
    ("res 96 480x832 T4", 96, 96, (3, 3, 3), 6, 480, 832, (0, 1, 1)),
    ("up 192->96 1x3x3 480x832", 192, 96, (1, 3, 3), 4, 480, 832, (0, 1, 1)),
    ("head 96->3 480x832 T4", 96, 3, (3, 3, 3), 6, 480, 832, (0, 1, 1)),
]


def module(ksub, stages):
    read = lambda f: open(os.path.join(KERNELS, f)).read()
    fa = read("flash_attention.cu")
    src = "\n".join([read("common.cu"), fa[:fa.index("// ---- end primitives")], read("implicit_conv.cu")])
    return cp.RawModule(code=src, options=("--std=c++17", "-default-device", f"-DCG_KSUB={ksub}", f"-DCG_STAGES={stages}"),
                        backend="nvrtc")


def channel_tiles(o):
    best = None
    for mt in range(1, 5):
        pad = -(-o // (32 * mt)) * 32 * mt
        if best is None or pad < best[0] or (pad == best[0] and mt > best[1]):
            best = (pad, mt)
    return best[1]


def run_ours(mod, ksub, stages, x, w, b, pad, out):
    C, O = x.shape[1], w.shape[0]
    T, H, W = x.shape[2:]
    kt, kh, kw = w.shape[2:]
    Cp = -(-C // 32) * 32
    To, Ho, Wo = out.shape[2:]
    P = To * Ho * Wo
    xcl = cp.empty(T * H * W * Cp, dtype=cp.uint16)
    wp = cp.empty(O * kt * kh * kw * Cp, dtype=cp.uint16)
    xs = x.stride()
    ws = w.stride()
    xc, wc = cp.from_dlpack(x.view(torch.int16)), cp.from_dlpack(w.view(torch.int16))
    S = T * H * W
    mod.get_function("td_conv_channels_last")((min(-(-S * Cp // 8 // 256), 132 * 16), 1), (256,),
        (xcl, xc, np.int64(0), np.int64(xs[0]), np.int64(xs[1]), np.int64(xs[2]), np.int64(xs[3]), np.int64(xs[4]),
         np.int32(C), np.int32(Cp), np.int32(T), np.int32(H), np.int32(W)))
    mod.get_function("td_conv_pack_weight")((1024,), (256,),
        (wp, wc, np.int64(0), np.int64(ws[0]), np.int64(ws[1]), np.int64(ws[2]), np.int64(ws[3]), np.int64(ws[4]),
         np.int32(O), np.int32(C), np.int32(Cp), np.int32(kt), np.int32(kh), np.int32(kw)))
    mt = channel_tiles(O)
    f = mod.get_function(f"td_conv_igemm_bf16_m{mt}")
    smem = stages * ksub * (32 * mt + 128) * 64
    f.max_dynamic_shared_size_bytes = smem
    f((-(-P // 128), -(-O // (32 * mt)), 1), (256,),
      (cp.from_dlpack(out), np.int32(0), xcl, wp, cp.from_dlpack(b), np.int32(O), np.int32(Cp), np.int32(T), np.int32(H),
       np.int32(W), np.int32(kt), np.int32(kh), np.int32(kw), np.int32(1), np.int32(1), np.int32(1),
       np.int32(pad[0]), np.int32(pad[1]), np.int32(pad[2]), np.int32(Ho), np.int32(Wo), np.int64(P)), shared_mem=smem)


def timed(fn, repeat):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="1x4,2x3,2x2,4x2")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    variants = [tuple(int(v) for v in s.split("x")) for s in args.variants.split(",")]
    mods = {v: module(*v) for v in variants}
    print(f"{'case':28} {'cuDNN ms':>9} {'TFLOP/s':>8} " + " ".join(f"{'k%ds%d ms' % v:>9} {'TFLOP/s':>8} {'relerr':>8}" for v in variants))
    totals = {"cudnn": 0.0, **{v: 0.0 for v in variants}}
    g = torch.Generator(device="cuda").manual_seed(0)
    for name, C, O, k, T, H, W, pad in CASES:
        x = torch.randn(1, C, T, H, W, device="cuda", generator=g).bfloat16()
        w = (torch.randn(O, C, *k, device="cuda", generator=g) * (C * k[0] * k[1] * k[2]) ** -0.5).bfloat16()
        b = torch.randn(O, device="cuda", generator=g)
        ref = F.conv3d(x.float(), w.float(), b, padding=pad)
        flop = 2.0 * O * C * k[0] * k[1] * k[2] * ref[0, 0].numel()
        t_ref = timed(lambda: F.conv3d(x, w, b.bfloat16(), padding=pad), args.repeat)
        totals["cudnn"] += t_ref
        line = f"{name:28} {t_ref:9.3f} {flop / t_ref / 1e9:8.1f} "
        for v in variants:
            out = torch.empty_like(ref)
            t = timed(lambda: run_ours(mods[v], *v, x, w, b, pad, out), args.repeat)
            err = ((out - ref).norm() / ref.norm()).item()
            totals[v] += t
            line += f" {t:9.3f} {flop / t / 1e9:8.1f} {err:8.1e}"
        print(line, flush=True)
    print("sum of the cases (ms): cuDNN %.2f; " % totals["cudnn"] + "; ".join(f"k{v[0]}s{v[1]} {totals[v]:.2f}" for v in variants))


if __name__ == "__main__":
    main()
