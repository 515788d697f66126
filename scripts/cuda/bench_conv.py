#!/usr/bin/env python3
"""The implicit-GEMM convolutions (Sources/BackendCUDA/Kernels/implicit_conv.cu, mma.sync, and
hopper_conv.cu, wgmma) against PyTorch's conv3d (cuDNN) on the Wan2.1 VAE decoder's shapes at 480p
and a few odd shapes, on the GPU machine, without Swift: CuPy compiles the kernel sources with NVRTC
for several pipeline settings (mma.sync: CG_KSUB × CG_STAGES; wgmma: CW_STAGES × CW_KSUB), and each
setting is checked against an fp32 conv3d of the same bf16 operands and timed beside cuDNN.

    python3 scripts/cuda/bench_conv.py [--variants 2x3,2x3a] [--hopper 4x2x2,4x2x4g] [--repeat 10]

mma.sync settings are KSUBxSTAGES, with a trailing "a" for input rows through L1 (CG_INPUT_CA);
wgmma settings are STAGESxKSUBxCONSUMERS, with a trailing "g" for input rows around L1 (CW_INPUT_CG).
"""
import argparse, os, sys
import cupy as cp
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_timing import median_ms  # noqa: E402
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
# (name, C, O, kernel, input T, H, W, padding (t, h, w)) — one causal step of the decoder each.
CASES = [
    ("res 384 60x104 T1", 384, 384, (3, 3, 3), 3, 60, 104, (0, 1, 1)),
    ("res 384 120x208 T2", 384, 384, (3, 3, 3), 4, 120, 208, (0, 1, 1)),
    ("res 192 240x416 T4", 192, 192, (3, 3, 3), 6, 240, 416, (0, 1, 1)),
    ("res 96 480x832 T4", 96, 96, (3, 3, 3), 6, 480, 832, (0, 1, 1)),
    ("up 192->96 1x3x3 480x832", 192, 96, (1, 3, 3), 4, 480, 832, (0, 1, 1)),
    ("head 96->3 480x832 T4", 96, 3, (3, 3, 3), 6, 480, 832, (0, 1, 1)),
    ("time 384->768 3x1x1 60x104", 384, 768, (3, 1, 1), 3, 60, 104, (0, 0, 0)),
    ("odd C40 O130 9x11 T3", 40, 130, (3, 3, 3), 3, 9, 11, (2, 1, 1)),
    ("odd C64 O100 1x5x7", 64, 100, (1, 3, 3), 1, 5, 7, (0, 1, 1)),
]


def module(ksub, stages, ca=False):
    read = lambda f: open(os.path.join(KERNELS, f)).read()
    fa = read("flash_attention.cu")
    src = "\n".join([read("common.cu"), fa[:fa.index("// ---- end primitives")], read("implicit_conv.cu")])
    return cp.RawModule(code=src, options=("--std=c++17", "-default-device", f"-DCG_KSUB={ksub}", f"-DCG_STAGES={stages}")
                        + (("-DCG_INPUT_CA",) if ca else ()),
                        backend="nvrtc")


def module_hopper(stages, ksub, consumers, cg=False):
    read = lambda f: open(os.path.join(KERNELS, f)).read()
    prim = lambda f: read(f)[:read(f).index("// ---- end primitives")]
    src = "\n".join([read("common.cu"), prim("flash_attention.cu"), prim("hopper_attention.cu"), read("implicit_conv.cu"),
                     read("hopper_conv.cu")])
    return cp.RawModule(code=src, options=("--std=c++17", "-default-device", "-arch=sm_90a", f"-DCW_STAGES={stages}",
                                           f"-DCW_KSUB={ksub}", f"-DCW_CONSUMERS={consumers}")
                        + (("-DCW_INPUT_CG",) if cg else ()), backend="nvrtc")


def hopper_tile(o, consumers):
    # The wgmma kernel's channel tile: least padding, ties to the larger tile (no 192 beyond 2 consumers).
    return min((96, 128, 192) if consumers <= 2 else (96, 128), key=lambda n: (-(-o // n) * n, -n))


def channel_tiles(o):
    best = None
    for mt in range(1, 5):
        pad = -(-o // (32 * mt)) * 32 * mt
        if best is None or pad < best[0] or (pad == best[0] and mt > best[1]):
            best = (pad, mt)
    return best[1]


def run_ours(mod, ksub, stages, x, w, b, pad, out, hopper=False, consumers=2):
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
    if hopper:
        nt = hopper_tile(O, consumers)
        f = mod.get_function(f"td_conv_wgmma_bf16_n{nt}")
        # here stages/ksub are CW_STAGES/CW_KSUB; CW_PIPE_BYTES of the kernel source
        m = 64 * consumers
        smem = 1024 + max(stages * ksub * (m + nt) * 64, nt * (m + 4) * 4) + 16 * stages
        f.max_dynamic_shared_size_bytes = smem
        grid, block = (-(-P // m), -(-O // nt), 1), (128 * consumers + 128,)
    else:
        mt = channel_tiles(O)
        f = mod.get_function(f"td_conv_igemm_bf16_m{mt}")
        smem = stages * ksub * (32 * mt + 128) * 64
        f.max_dynamic_shared_size_bytes = smem
        grid, block = (-(-P // 128), -(-O // (32 * mt)), 1), (256,)
    f(grid, block,
      (cp.from_dlpack(out), np.int32(0), xcl, wp, cp.from_dlpack(b), np.int32(O), np.int32(Cp), np.int32(T), np.int32(H),
       np.int32(W), np.int32(kt), np.int32(kh), np.int32(kw), np.int32(1), np.int32(1), np.int32(1),
       np.int32(pad[0]), np.int32(pad[1]), np.int32(pad[2]), np.int32(Ho), np.int32(Wo), np.int64(P)), shared_mem=smem)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="1x4,2x3,2x2,4x2")
    ap.add_argument("--hopper", default="4x2", help="wgmma kernel settings, CW_STAGES x CW_KSUB (empty: none)")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--cases", default="", help="comma-separated case indices (default: all)")
    ap.add_argument("--cudnn-kernels", action="store_true", help="print the kernels PyTorch's conv3d launches (torch.profiler)")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    def parse(spec, flag):
        on = spec.endswith(flag)
        return tuple(int(v) for v in spec.rstrip(flag).split("x")) + (on,)
    variants = [("m",) + parse(s, "a") for s in args.variants.split(",") if s]
    hoppers = [("h",) + parse(s, "g") for s in args.hopper.split(",") if s]
    mods = {v: module(*v[1:]) for v in variants}
    mods.update({v: module_hopper(*v[1:]) for v in hoppers})
    variants = variants + hoppers
    label = lambda v: ("wg%d s%dk%d" % (v[3], v[1], v[2]) + ("g" if v[4] else "")) if v[0] == "h" else ("k%ds%d" % v[1:3] + ("a" if v[3] else ""))
    print(f"{'case':28} {'cuDNN ms':>9} {'TFLOP/s':>8} " + " ".join(f"{label(v) + ' ms':>9} {'TFLOP/s':>8} {'relerr':>8}" for v in variants))
    totals = {"cudnn": 0.0, **{v: 0.0 for v in variants}}
    g = torch.Generator(device="cuda").manual_seed(0)
    chosen = [CASES[int(i)] for i in args.cases.split(",")] if args.cases else CASES
    for name, C, O, k, T, H, W, pad in chosen:
        x = torch.randn(1, C, T, H, W, device="cuda", generator=g).bfloat16()
        w = (torch.randn(O, C, *k, device="cuda", generator=g) * (C * k[0] * k[1] * k[2]) ** -0.5).bfloat16()
        b = torch.randn(O, device="cuda", generator=g)
        # Causal padding as the VAE pads: pt frames in front only.
        xp = F.pad(x.float(), (pad[2], pad[2], pad[1], pad[1], pad[0], 0))
        ref = F.conv3d(xp, w.float(), b)
        flop = 2.0 * O * C * k[0] * k[1] * k[2] * ref[0, 0].numel()
        xpb = xp.bfloat16()
        t_ref = median_ms(lambda: F.conv3d(xpb, w, b.bfloat16()), args.repeat)
        totals["cudnn"] += t_ref
        if args.cudnn_kernels:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                F.conv3d(xpb, w, b.bfloat16()); torch.cuda.synchronize()
            for e in prof.key_averages():
                print(f"  cuDNN kernel: {e.key[:160]}  {e.device_time_total / 1000:.3f} ms", flush=True)
        line = f"{name:28} {t_ref:9.3f} {flop / t_ref / 1e9:8.1f} "
        for v in variants:
            out = torch.empty_like(ref)
            if v[0] == "h":
                t = median_ms(lambda: run_ours(mods[v], v[1], v[2], x, w, b, pad, out, hopper=True, consumers=v[3]), args.repeat)
            else:
                t = median_ms(lambda: run_ours(mods[v], v[1], v[2], x, w, b, pad, out), args.repeat)
            err = ((out - ref).norm() / ref.norm()).item()
            totals[v] += t
            line += f" {t:9.3f} {flop / t / 1e9:8.1f} {err:8.1e}"
        print(line, flush=True)
    print("sum of the cases (ms): cuDNN %.2f; " % totals["cudnn"] + "; ".join(f"{label(v)} {totals[v]:.2f}" for v in variants))


if __name__ == "__main__":
    main()
