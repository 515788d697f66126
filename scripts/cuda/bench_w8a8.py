#!/usr/bin/env python3
"""Check and time the W8A8 kernels (Sources/BackendCUDA/Kernels/quantized_matmul*.cu) on the GPU
machine without Swift: CuPy compiles common.cu + the flash_attention.cu and hopper_attention.cu
primitives + quantized_matmul.cu + quantized_matmul_wgmma.cu with NVRTC (as KernelFamily does), once per
variant.

    python3 scripts/cuda/bench_w8a8.py [--variants pipe4,pipe3,pipe2] [--repeat 20] [--arch sm_90a]
                                       [--shapes dit|small|all] [--inline]

Variants (GEMM kernel after td_w8a8_quantize_block; the baseline is always td_w8a8_quantize +
td_w8a8_gemm_mma, the kernels of the previous release):
  mma      td_w8a8_gemm_mma (the baseline again, as a control)
  pipeS    td_w8a8_gemm_pipe with QP_STAGES = S (2–4; the engine compiles 4)
  wgmmaS   td_w8a8_gemm_wgmma with QW_STAGES = S (3–5: the epilogue reuses the stages; sm_90a only)
  wgmmaSu  the same with QW_ORDER = 0 (the consumer warpgroups issue unordered; the engine compiles 1)
  wgmmaSpP the same with timing probe QW_PROBE = P (1: no fold, 2: no products, 3: no global loads):
           wrong values on purpose, so timed only; differences against wgmmaS place the time
  wgmmaBS  td_w8a8_gemm_wgmma with QW_BULK = 1: operands pre-tiled (as triS), one
           producer thread with bulk copies
  halfS    td_w8a8_gemm_wgmma64 with QW_STAGES = S: 64 × 128 tiles, two blocks per SM, one consumer
           warpgroup and a bulk-copy producer thread each (operands pre-tiled as triS)
  triS     td_w8a8_gemm_wgmma192 with QW_STAGES = S: 192 × 128 tiles, three consumer warpgroups and a
           bulk-copy producer thread; as the engine runs it (S = 4): x quantised straight into tiles
           (td_w8a8_quantize_block's `tiled`, checked against td_w8a8_tile), the weight tiled per call,
           both in the "quantize new" time

Per variant:
1. checks, on odd shapes (M, N, K not multiples of 128, K not a multiple of 16, f32/bf16 x,
   f32/bf16 output, with and without bias) and on the DiT shapes, that the new quantiser's xq and
   sx and the variant's output are bit-identical to the baseline's, and the baseline's to an exact
   PyTorch emulation (float64 products per K block are exact; the fold an exactly rounded fma);
2. times, on the Wan2.1-1.3B 480p shapes (M = 32760 tokens; q/k/v/o 1536→1536, ffn 1536→8960 and
   8960→1536; cross-attention k/v on 512 text tokens), the old quantiser + old GEMM, the new
   quantiser + the variant's GEMM and torch.matmul in bf16 (CUDA events, median of --repeat after a
   warm-up), as ms and TOPS = 2·M·N·K / time.

Each variant runs in its own process (unless --inline), so one that faults or hangs is reported
("FAILED ...") and the next still runs. Exits non-zero when anything failed or differed.
"""
import argparse, faulthandler, os, subprocess, sys, traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "reference"))
from w8a8_reference import fma_f32  # noqa: E402  (the op's fp32 fold, exact; torch only)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_timing import median_ms  # noqa: E402
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
BLK = 128
# (name, M, K, N): the DiT's quantised Linears at 480p (Sources/Models/WanDiT/WanBlock.swift).
DIT = [("qkvo 1536->1536", 32760, 1536, 1536), ("ffn.0 1536->8960", 32760, 1536, 8960),
       ("ffn.2 8960->1536", 32760, 8960, 1536), ("cross k/v 512 tokens", 512, 1536, 1536)]
# (M, K, N, x dtype, out dtype, bias dtype or None)
SMALL = [(300, 300, 200, "f32", "f32", "f32"), (300, 300, 200, "bf16", "bf16", None),
         (17, 77, 129, "f32", "f32", "f32"), (333, 1100, 260, "bf16", "bf16", "bf16"),
         (129, 1040, 300, "f32", "bf16", None), (2 * 150, 256, 256, "bf16", "f32", "f32"),
         (1000, 1536, 1536, "bf16", "bf16", "bf16"), (640, 8960, 384, "bf16", "bf16", "bf16")]


def source():
    read = lambda f: open(os.path.join(KERNELS, f)).read()
    prim = lambda f: read(f)[:read(f).index("// ---- end primitives")]
    return "\n".join([read("common.cu"), prim("flash_attention.cu"), prim("hopper_attention.cu"), read("quantized_matmul.cu"),
                      read("quantized_matmul_wgmma.cu")])


def run_variant(variant, args):
    import numpy as np
    import cupy as cp
    import torch

    codes = {"f32": 0, "bf16": 1}
    tdt = {"f32": torch.float32, "bf16": torch.bfloat16}
    ptr = lambda t: np.uint64(0 if t is None else t.data_ptr())
    opts = ("--std=c++17", "-default-device", f"-arch={args.arch}")
    base = cp.RawModule(code=source(), options=opts, backend="nvrtc")
    probe, bulk, rows_per_tile = 0, False, BLK
    if variant == "mma":
        mod, gemm, smem, threads = base, "td_w8a8_gemm_mma", 0, 256
    elif variant.startswith("pipe"):
        stages = int(variant[4:])
        mod = cp.RawModule(code=source(), options=opts + (f"-DQP_STAGES={stages}",), backend="nvrtc")
        gemm, smem, threads = "td_w8a8_gemm_pipe", stages * 2 * BLK * BLK, 256
    elif variant.startswith("wgmma"):
        spec = variant[5:]
        bulk = spec.startswith("B")
        spec = spec.lstrip("B")
        order = 0 if spec.endswith("u") else 1
        stages, _, probe = spec.rstrip("u").partition("p")
        stages, probe = int(stages), int(probe or 0)
        mod = cp.RawModule(code=source(), options=opts + (f"-DQW_STAGES={stages}", f"-DQW_PROBE={probe}",
                                                          f"-DQW_ORDER={order}", f"-DQW_BULK={int(bulk)}"), backend="nvrtc")
        # 1024 (alignment) + the stages + two mbarriers per stage (CUDABackend.w8a8WgmmaSharedBytes).
        gemm, smem, threads = "td_w8a8_gemm_wgmma", 1024 + stages * 2 * BLK * BLK + 16 * stages, 384
    elif variant.startswith("half"):
        stages, bulk, rows_per_tile = int(variant[4:]), True, 64
        mod = cp.RawModule(code=source(), options=opts + (f"-DQW_STAGES={stages}",), backend="nvrtc")
        # 1024 (alignment) + the stages of an 8 KiB and a 16 KiB tile + two mbarriers per stage.
        gemm, smem, threads = "td_w8a8_gemm_wgmma64", 1024 + stages * 3 * 64 * BLK + 16 * stages, 160
    elif variant.startswith("tri"):
        stages, bulk, rows_per_tile = int(variant[3:]), True, 192
        mod = cp.RawModule(code=source(), options=opts + (f"-DQW_STAGES={stages}",), backend="nvrtc")
        # 1024 (alignment) + the stages of a 24 KiB and a 16 KiB tile + two mbarriers per stage.
        gemm, smem, threads = "td_w8a8_gemm_wgmma192", 1024 + stages * 5 * 64 * BLK + 16 * stages, 512
    else:
        raise SystemExit(f"unknown variant {variant!r} (mma, pipeS, wgmmaS, wgmmaBS, wgmmaSpP, halfS, triS)")
    probing = probe != 0
    f_gemm = mod.get_function(gemm)
    if smem > 48 * 1024:
        f_gemm.max_dynamic_shared_size_bytes = smem
    f_qold, f_mma = base.get_function("td_w8a8_quantize"), base.get_function("td_w8a8_gemm_mma")
    f_qnew = mod.get_function("td_w8a8_quantize_block")
    bad = []

    def quantize(f, x, xdt, m, k, into=None, tiles=False):
        # tiles: td_w8a8_quantize_block's tiled output (td_w8a8_tile's layout of xq; f is f_qnew).
        kp, kb = -(-k // 16) * 16, -(-k // BLK)
        # Poisoned unless timed (`into`): every byte must be written.
        xq, sx = into or (torch.full((-(-m // BLK) * kb * BLK * BLK,) if tiles else (m, kp), 77, dtype=torch.int8, device="cuda"),
                          torch.full((-(-m // BLK), kb), float("nan"), device="cuda"))
        f((kb, -(-m // BLK)), (256,), (ptr(xq), ptr(sx), ptr(x), np.int32(codes[xdt]), np.int64(m), np.int64(k),
                                       np.int64(kp), np.int32(kb)) + ((np.int32(int(tiles)),) if f is f_qnew else ()))
        return xq, sx

    f_tile = mod.get_function("td_w8a8_tile") if bulk else None

    def tiled(a, rows, kp, kb):
        # td_w8a8_tile: [rows, kp] → 128 × 128 swizzled tiles (QW_BULK's operand layout).
        out = torch.full((-(-rows // BLK) * kb * BLK * BLK,), 77, dtype=torch.int8, device="cuda")
        f_tile((kb, -(-rows // BLK)), (256,), (ptr(out), ptr(a), np.int64(rows), np.int64(kp), np.int32(kb)))
        return out

    def product(f, shared, xq, sx, w, sw, bias, bdt, odt, m, n, k, into=None, threads=256, pretiled=False):
        kp, kb = -(-k // 16) * 16, -(-k // BLK)
        if bulk and f is f_gemm and not pretiled:
            xq, w = tiled(xq, m, kp, kb), tiled(w, n, kp, kb)
        out = into if into is not None else torch.full((m, n), float("nan"), dtype=tdt[odt], device="cuda")
        # td_w8a8_gemm_wgmma64 (halfS) and td_w8a8_gemm_wgmma192 (triS) have 64- and 192-row tiles.
        tiles = (-(-n // BLK), -(-m // (rows_per_tile if f is f_gemm else BLK)))
        f(tiles, (threads,),
          (ptr(out), np.int32(codes[odt]), ptr(xq), ptr(sx), ptr(w), ptr(sw), ptr(bias), np.int32(codes.get(bdt, 0)),
           np.int64(m), np.int64(n), np.int64(kp), np.int32(kb)), shared_mem=shared)
        return out

    def emulate(x, w, sw, bias, odt, m, k, n):
        # Exact model of the op: quantise (IEEE division, half-to-even), float64 block products
        # (|partial| ≤ 2^21: exact), the block scale sx·sw rounded once, one fp32 fma per block.
        kb, mb = -(-k // BLK), -(-m // BLK)
        xf = torch.zeros(mb * BLK, kb * BLK, device="cuda")
        xf[:m, :k] = x.float()
        blocks = xf.view(mb, BLK, kb, BLK)
        amax = blocks.abs().amax(dim=(1, 3))
        scale = amax / 128.0
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.round(blocks / safe[:, None, :, None]).clamp(-128, 127)
        q = torch.where((scale > 0)[:, None, :, None], q, torch.zeros_like(q)).view(mb * BLK, kb * BLK)[:m]
        wf = torch.zeros(n, kb * BLK, dtype=torch.float64, device="cuda")
        wf[:, :k] = w[:, :k].double()
        rows = scale.repeat_interleave(BLK, dim=0)[:m]
        cols = sw.repeat_interleave(BLK, dim=0)[:n]
        acc = torch.zeros(m, n, device="cuda")
        for b in range(kb):
            part = (q[:, b * BLK:(b + 1) * BLK].double() @ wf[:, b * BLK:(b + 1) * BLK].T).float()
            acc = fma_f32(part, rows[:, b:b + 1] * cols[:, b][None, :], acc)
        if bias is not None:
            acc = acc + bias.float()[None, :]
        return acc.to(tdt[odt]), scale

    def same(a, b):
        return a.shape == b.shape and torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))

    def check(label, m, k, n, xdt, odt, bdt, emulated):
        g = torch.Generator(device="cuda").manual_seed(m * 7 + k * 3 + n)
        x = (torch.randn(m, k, device="cuda", generator=g) * 2).to(tdt[xdt])
        kp, kb = -(-k // 16) * 16, -(-k // BLK)
        w = torch.zeros(n, kp, dtype=torch.int8, device="cuda")
        w[:, :k] = torch.randint(-128, 128, (n, k), device="cuda", generator=g, dtype=torch.int8)
        sw = torch.rand(-(-n // BLK), kb, device="cuda", generator=g) * 9e-3 + 1e-3
        bias = None if bdt is None else torch.randn(n, device="cuda", generator=g).to(tdt[bdt])
        if probing:   # a timing probe computes wrong values on purpose: only the operands are wanted
            return x, w, sw, bias
        xq0, sx0 = quantize(f_qold, x, xdt, m, k)
        ref = product(f_mma, 0, xq0, sx0, w, sw, bias, bdt, odt, m, n, k)
        xq1, sx1 = quantize(f_qnew, x, xdt, m, k)
        verdicts = {"xq": same(xq0, xq1), "sx": same(sx0, sx1)}
        if bulk:   # as the engine runs it: x quantised straight into tiles, the weight tiled by td_w8a8_tile
            kp, kb = -(-k // 16) * 16, -(-k // BLK)
            xt, sxt = quantize(f_qnew, x, xdt, m, k, tiles=True)
            verdicts["xq tiles"] = same(xt, tiled(xq1, m, kp, kb)) and same(sxt, sx1)
            out = product(f_gemm, smem, xt, sxt, tiled(w, n, kp, kb), sw, bias, bdt, odt, m, n, k, threads=threads, pretiled=True)
        else:
            out = product(f_gemm, smem, xq1, sx1, w, sw, bias, bdt, odt, m, n, k, threads=threads)
        torch.cuda.synchronize()
        verdicts["out"] = same(ref, out)
        if emulated:
            em, scale = emulate(x, w, sw, bias, odt, m, k, n)
            verdicts["baseline=emulation"] = same(ref, em) and same(sx0, scale)
        ok = all(verdicts.values())
        if not ok:
            bad.append(label)
        detail = ", ".join(f"{key} {'identical' if v else 'DIFFERS'}" for key, v in verdicts.items())
        extra = "" if verdicts["out"] else f" (max |diff| {(ref.float() - out.float()).abs().max().item():.3g})"
        print(f"{variant:7} check {label:44} {'ok' if ok else 'MISMATCH'}: {detail}{extra}", flush=True)
        return x, w, sw, bias

    timed = lambda fn: median_ms(fn, args.repeat)

    if args.shapes in ("small", "all") and not probing:
        for m, k, n, xdt, odt, bdt in SMALL:
            check(f"M{m} K{k} N{n} x {xdt} out {odt} bias {bdt}", m, k, n, xdt, odt, bdt, emulated=True)
    if args.shapes in ("dit", "all"):
        for name, m, k, n in DIT:
            x, w, sw, bias = check(f"{name} M{m}", m, k, n, "bf16", "bf16", "bf16", emulated=(k == 1536 and n == 1536))
            xq, sx = quantize(f_qnew, x, "bf16", m, k)
            out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
            t_qold = timed(lambda: quantize(f_qold, x, "bf16", m, k, into=(xq, sx)))
            t_old = timed(lambda: product(f_mma, 0, xq, sx, w, sw, bias, "bf16", "bf16", m, n, k, into=out))
            kp, kb = -(-k // 16) * 16, -(-k // BLK)
            xq_t, w_t = (quantize(f_qnew, x, "bf16", m, k, tiles=True)[0], tiled(w, n, kp, kb)) if bulk else (xq, w)
            # The bulk kernels' quantiser writes tiles, and the engine tiles the weight per call: both counted.
            t_qnew = timed(lambda: quantize(f_qnew, x, "bf16", m, k, into=(xq_t, sx), tiles=bulk))
            if bulk:
                wt_into = torch.empty_like(w_t)
                t_qnew += timed(lambda: f_tile((kb, -(-n // BLK)), (256,), (ptr(wt_into), ptr(w), np.int64(n), np.int64(kp), np.int32(kb))))
            t_new = timed(lambda: product(f_gemm, smem, xq_t, sx, w_t, sw, bias, "bf16", "bf16", m, n, k, into=out, threads=threads,
                                          pretiled=True))
            wb = (torch.randn(k, n, device="cuda") * k ** -0.5).bfloat16()
            t_torch = timed(lambda: torch.matmul(x, wb))
            ops = 2.0 * m * n * k
            tops = lambda t: ops / t / 1e9
            print(f"{variant:7} time  {name:22} M{m} K{k} N{n}: quantize old {t_qold:.3f} new {t_qnew:.3f} ms | "
                  f"gemm old {t_old:.3f} ms {tops(t_old):.0f} TOPS, {variant} {t_new:.3f} ms {tops(t_new):.0f} TOPS | "
                  f"torch bf16 {t_torch:.3f} ms {tops(t_torch):.0f} TFLOP/s | quantize+gemm old {t_qold + t_old:.3f} "
                  f"new {t_qnew + t_new:.3f} ms, torch/new {(t_torch / (t_qnew + t_new)):.2f}x "
                  f"(gemm only {(t_torch / t_new):.2f}x)", flush=True)
    print(f"{variant:7} RESULT {'timing probe, results not checked' if probing else 'FAILED: ' + '; '.join(bad) if bad else 'all bit-identical'}", flush=True)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="pipe4,pipe3,wgmma4,wgmma3,wgmma5,mma")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--arch", default="sm_90a")
    ap.add_argument("--shapes", default="all", choices=("dit", "small", "all"))
    ap.add_argument("--inline", action="store_true", help="run the variants in this process")
    ap.add_argument("--deadline", type=int, default=300, help="seconds per variant before it is reported as hung")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if args.inline or len(variants) == 1:
        faulthandler.dump_traceback_later(args.deadline, exit=True)
        failed = 0
        for v in variants:
            try:
                failed |= run_variant(v, args)
            except BaseException as e:
                if isinstance(e, KeyboardInterrupt):
                    raise
                print(f"{v:7} FAILED with {type(e).__name__}: {e}", flush=True)
                traceback.print_exc()
                failed = 1
        sys.exit(failed)
    summary = []
    for v in variants:
        cmd = [sys.executable, os.path.abspath(__file__), "--variants", v, "--repeat", str(args.repeat), "--arch", args.arch,
               "--shapes", args.shapes, "--deadline", str(args.deadline)]
        try:
            rc = subprocess.run(cmd, timeout=args.deadline + 60).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        print(f"{v:7} FAILED (exit {rc})" if rc else f"{v:7} passed", flush=True)
        summary.append((v, rc))
    print("summary: " + ", ".join(f"{v} {'ok' if rc == 0 else 'FAILED'}" for v, rc in summary))
    sys.exit(1 if any(rc != 0 for _, rc in summary) else 0)


if __name__ == "__main__":
    main()
