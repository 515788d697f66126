#!/usr/bin/env python3
"""SageSLA's sparse branch on the GPU without Swift: the tensor-core kernel against the CUDA-core one.

    python3 scripts/cuda/bench_sage.py [--len 32760] [--heads 12] [--dim 128] [--block-q 64] [--block-k 128]
                                       [--topk 0.1] [--bound 1e-6] [--arch sm_90] [--timeout 300]
                                       [--kernels DIR]

Compiles Kernels/common.cu + Kernels/sage_attention.cu (and sparse_attention.cu) with CuPy/NVRTC, builds DiT-layout bf16
q/k/v ([L, H·D] seen as [1, H, L, D]) and a random block table (keep = ⌊topk·⌈L/blockK⌉⌋ key blocks
per query block) with PyTorch, and runs the quantized path exactly as
CUDABackend.quantizedBlockSparseAttention launches it (same kernels, order, arguments, grids, blocks,
shared memory): key mean, int8 q/k, v scale, e4m3 v, attention. Checks the tensor-core output
against the CUDA-core kernel (NMSE, f32 outputs; exit 1 above --bound), for D = 128 with 128-key blocks the
lean variant (one Vt tile, for 99 KiB GPUs) against the double-buffered one (bitwise), and the int8 q/k with their
block scales and the v scales against NumPy's IEEE float32 arithmetic (bitwise), then times both paths
(CUDA events, median of 20 after warm-up) with bf16 outputs, and each preparation kernel. Prints ms and
effective TFLOP/s = 4·Lq·keep·blockK·D·H / time. --kernels reads the kernel sources from another
folder (an older version, to compare in the same run). Exits 2 on a timeout.
"""
import argparse, math, os, signal, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")


def quantize_blocks_reference(x, block, shift):
    """CPUBackend's int8 per block of tokens in float32 NumPy: x [H, L, D], shift [H, D] or None."""
    import numpy as np
    H, L, D = x.shape
    y = x - shift[:, None, :] if shift is not None else x
    values = np.empty((H, L, D), np.int8)
    scales = np.empty((H, -(-L // block)), np.float32)
    for n, t0 in enumerate(range(0, L, block)):
        part = y[:, t0:t0 + block]
        s = np.abs(part).reshape(H, -1).max(axis=1) / np.float32(127) + np.float32(1e-7)
        scales[:, n] = s
        z = part / s[:, None, None]
        values[:, t0:t0 + block] = np.trunc(z + np.where(z >= 0, np.float32(0.5), np.float32(-0.5)))
    return values, scales


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--len", type=int, default=32760)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--block-q", type=int, default=64)
    ap.add_argument("--block-k", type=int, default=128)
    ap.add_argument("--topk", type=float, default=0.1)
    ap.add_argument("--bound", type=float, default=1e-6)
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--kernels", default=KERNELS, help="folder of the kernel sources (default: this checkout's)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds before the run gives up (exit 2)")
    args = ap.parse_args()

    def on_alarm(*_):
        print(f"TIMEOUT after {args.timeout} s", flush=True)
        os._exit(2)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.timeout)

    import numpy as np
    import cupy as cp
    import torch

    L, H, D, BQ, BK = args.len, args.heads, args.dim, args.block_q, args.block_k
    mq, mk = -(-L // BQ), -(-L // BK)
    keep = max(1, int(math.floor(args.topk * mk)))
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count
    print(f"device {props.name} ({sms} SMs), L={L} H={H} D={D} blocks {BQ}x{BK} keep {keep}/{mk}", flush=True)

    t0 = time.time()
    common = open(os.path.join(args.kernels, "common.cu")).read() + "\n"
    opts = ("--std=c++17", "-default-device", f"--gpu-architecture={args.arch}")
    # The engine's families: the tensor-core kernel after the CUDA-core file's primitives; the token mean
    # of k lives with the block map.
    def read(f):
        return open(os.path.join(args.kernels, f)).read()
    sage = read("sage_attention.cu")
    mods = {"sage_attention.cu": cp.RawModule(code=common + sage, options=opts),
            "sage_attention_mma.cu": cp.RawModule(code=common + sage[:sage.index("// ---- end primitives")] + "\n"
                                                  + read("sage_attention_mma.cu"), options=opts),
            "sparse_attention.cu": cp.RawModule(code=common + read("sparse_attention.cu"), options=opts)}
    fn = {}
    def kernel(name, smem=0):
        if name not in fn:
            module = ("sparse_attention.cu" if name.startswith("td_sla_")
                      else "sage_attention_mma.cu" if name.startswith("td_sage_attention_mma") else "sage_attention.cu")
            fn[name] = mods[module].get_function(name)
        if smem > 48 * 1024:
            fn[name].max_dynamic_shared_size_bytes = smem
        return fn[name]
    print(f"compiled sage_attention.cu, sage_attention_mma.cu and sparse_attention.cu in {time.time() - t0:.1f} s", flush=True)

    P = lambda t: np.uint64(t.data_ptr()) if t is not None else np.uint64(0)
    I32, I64, F32 = np.int32, np.int64, np.float32
    def ew_grid(n):   # CUDABackend.elementwiseGrid
        return (max(1, min((n + 255) // 256, sms * 32)),), (256,)

    torch.manual_seed(0)
    x = [torch.randn(L, H * D, device=dev, dtype=torch.float32).to(torch.bfloat16) for _ in range(3)]
    x[1] += torch.randn(H * D, device=dev).to(torch.bfloat16)   # k with a per-channel offset (the mean shift matters)
    x[0] *= 2
    dt = 1   # DT_BF16
    strides = [I64(L * H * D), I64(D), I64(H * D), I64(1)]   # [1, H, L, D] view of [L, H·D]
    table = torch.rand(H, mq, mk, device=dev).argsort(dim=-1)[..., :keep].sort(dim=-1).values.to(torch.int32).contiguous()
    scale = 1.0 / math.sqrt(D)
    es = F32(np.float32(scale) * np.float32(1.4426950408889634))
    heads, nh, dp = H, H, (D + 3) // 4 * 4
    vchunks = max(1, -(-L // 128))
    lkp = mk * BK
    chunks = -(-BQ // 64)

    f32 = dict(device=dev, dtype=torch.float32)
    mean = torch.empty(heads, D, **f32)
    q8 = torch.empty(heads, L, dp, device=dev, dtype=torch.int8); qs = torch.empty(heads, mq, **f32)
    k8 = torch.empty(heads, L, dp, device=dev, dtype=torch.int8); ks = torch.empty(heads, mk, **f32)
    partial = torch.empty(heads, vchunks, D, **f32); vs = torch.empty(heads, D, **f32)
    vt16 = torch.empty(heads, D, lkp, device=dev, dtype=torch.int16)   # f16 bits of e4m3 values
    v8 = torch.empty(heads, L, D, device=dev, dtype=torch.uint8)

    # The preparation as CUDABackend.quantizedBlockSparseAttention launches it, kernel by kernel.
    def key_mean():   # the cp.async ring where CUDABackend.keyMean takes it (bf16 rows here: always)
        if D % 32 == 0:
            ring = 4 * 256 * 32 * 2   # meanStages · meanStageTokens · 32 channels · bf16
            kernel("td_sla_key_mean_async", ring)((D // 32, heads), (256,), (P(mean), P(x[1]), I32(dt), *strides[:3], I32(nh), I64(L)),
                                                  shared_mem=ring)
        else:
            kernel("td_sla_key_mean_staged")(((D + 31) // 32, heads), (256,), (P(mean), P(x[1]), I32(dt), *strides, I32(nh), I64(L), I32(D)))
    def quantize(t, vals, scl, blk, cnt, shift):
        kernel("td_sage_quantize_blocks")((cnt, heads), (256,), (P(vals), P(scl), P(t), I32(dt), *strides, I32(nh), I64(L),
                                                                   I32(D), I32(dp), I32(blk), I32(cnt), P(shift)))
    def v_scale():
        kernel("td_sage_v_amax")((vchunks, heads), (256,), (P(partial), P(x[2]), I32(dt), *strides, I32(nh), I64(L), I32(D), I32(vchunks)),
                                 shared_mem=D * 4)
        g, b = ew_grid(heads * D)
        kernel("td_sage_v_scale_reduce")(g, b, (P(vs), P(partial), I32(heads), I32(vchunks), I32(D)))
    def v_transposed():
        kernel("td_sage_v_quantize_t")((lkp // 64, heads), (256,), (P(vt16), P(vs), P(x[2]), I32(dt), *strides, I32(nh), I32(heads),
                                                                   I64(L), I64(lkp), I32(D)), shared_mem=64 * (D + 1) * 2)
    def v_rows():
        g, b = ew_grid(heads * L * D)
        kernel("td_sage_v_quantize")(g, b, (P(v8), P(vs), P(x[2]), I32(dt), *strides, I32(nh), I32(heads), I64(L), I32(D)))
    steps = [("key mean", key_mean), ("int8 q", lambda: quantize(x[0], q8, qs, BQ, mq, None)),
             ("int8 k", lambda: quantize(x[1], k8, ks, BK, mk, mean)), ("v scale", v_scale)]

    # Paths: the CUDA-core kernel, the tensor-core kernel, and (D = 128, 128-key blocks) its lean variant
    # with one Vt tile, which CUDABackend takes where the double buffer does not fit (99 KiB GPUs).
    paths = ["cuda", "mma"] + (["lean"] if (D, BK) == (128, 128) else [])
    label = {"cuda": "CUDA cores", "mma": "tensor cores", "lean": "tc, lean Vt"}

    def prepare(path):
        for _, f in steps:
            f()
        (v_rows if path == "cuda" else v_transposed)()

    def attend(path, out, odt):
        # out is a dense [heads, L, D] (B = 1): head h's row t at h·L·D + t·D.
        out_view = (I32(nh), I64(0), I64(L * D), I64(D))
        if path != "cuda":   # CUDABackend.sageMMASharedBytes
            smem = 2 * BK * (D + 16) + (1 if path == "lean" else 2) * D * (BK + 8) * 2
            name = "td_sage_attention_mma_lean_d128_k128" if path == "lean" else f"td_sage_attention_mma_d{D}_k{BK}"
            kernel(name, smem)(
                (mq * chunks, heads), (128,),
                (P(out), I32(odt), P(q8), P(qs), P(k8), P(ks), P(vt16), P(vs), P(table), I64(L), I64(L), I64(lkp),
                 I32(BQ), I32(keep), I32(mq), I32(mk), es, *out_view), shared_mem=smem)
        else:
            stride = dp // 4 + 1
            smem = 4 * (64 * stride + BK * stride + 64 * (BK + 1) + 32 * D + 3 * 64)
            kernel("td_sage_attention", smem)(
                (mq * chunks, heads), (256,),
                (P(out), I32(odt), P(q8), P(qs), P(k8), P(ks), P(v8), P(vs), P(table), I64(L), I64(L), I32(dp), I32(D),
                 I32(BQ), I32(BK), I32(keep), I32(mq), I32(mk), es, *out_view), shared_mem=smem)

    def sync():
        cp.cuda.Device().synchronize()
        torch.cuda.synchronize()

    torch.cuda.synchronize()
    # Correctness: f32 outputs of both paths.
    outs = {}
    for path in paths:
        out = torch.full((heads, L, D), float("nan"), **f32)
        prepare(path)
        attend(path, out, 0)
        sync()
        outs[path] = out
    # The CPU's amax / 2.25 as an IEEE f32 division (torch's CUDA division by a scalar multiplies
    # by the reciprocal, which can differ in the last bit).
    amax = x[2].float().view(L, H, D).abs().amax(dim=0).cpu().numpy()
    want = amax / np.float32(2.25)
    want = torch.from_numpy(np.where(want > 0, want, np.float32(1)).astype(np.float32)).to(vs.device).view_as(vs)
    scales_ok = torch.equal(vs, want)
    ref, got = outs["cuda"].double(), outs["mma"].double()
    finite = bool(torch.isfinite(got).all()) and bool(torch.isfinite(ref).all())
    nmse = float(((got - ref) ** 2).sum() / (ref ** 2).sum()) if finite else float("inf")
    maxrel = float(((got - ref).abs().max() / ref.abs().max())) if finite else float("inf")
    print(f"v scales vs torch (bitwise): {'ok' if scales_ok else 'MISMATCH'}")
    heads_first = [t.float().view(L, H, D).permute(1, 0, 2).contiguous().cpu().numpy() for t in x[:2]]
    q_want, qs_want = quantize_blocks_reference(heads_first[0], BQ, None)
    k_want, ks_want = quantize_blocks_reference(heads_first[1], BK, mean.cpu().numpy())
    int8_ok = (np.array_equal(q8[..., :D].cpu().numpy(), q_want) and np.array_equal(qs.cpu().numpy(), qs_want)
               and np.array_equal(k8[..., :D].cpu().numpy(), k_want) and np.array_equal(ks.cpu().numpy(), ks_want))
    print(f"int8 q/k and block scales vs NumPy (bitwise): {'ok' if int8_ok else 'MISMATCH'}")
    scales_ok = scales_ok and int8_ok
    print(f"tensor cores vs CUDA cores: nmse {nmse:.3e}, max |diff|/max|ref| {maxrel:.3e} (bound {args.bound:g})", flush=True)
    lean_ok = True
    if "lean" in outs:   # the same arithmetic in the same order: bit for bit
        lean_ok = torch.equal(outs["lean"], outs["mma"])
        print(f"lean Vt vs double-buffered tensor-core kernel (bitwise): {'ok' if lean_ok else 'MISMATCH'}", flush=True)

    # Timing: bf16 outputs as the DiT calls it.
    flops = 4.0 * L * keep * BK * D * H
    def timed(f):
        for _ in range(3):
            f()
        sync()
        times = []
        for _ in range(args.reps):
            a, b = cp.cuda.Event(), cp.cuda.Event()
            a.record(); f(); b.record(); b.synchronize()
            times.append(cp.cuda.get_elapsed_time(a, b))
        return sorted(times)[len(times) // 2]
    out16 = torch.empty(heads, L, D, device=dev, dtype=torch.bfloat16)
    print(f"{'path':<14}{'prepare ms':>12}{'attention ms':>14}{'total ms':>10}{'TFLOP/s (attn)':>16}")
    for path in paths:
        prep = timed(lambda: prepare(path))
        prepare(path); sync()
        att = timed(lambda: attend(path, out16, 1))
        tot = timed(lambda: (prepare(path), attend(path, out16, 1)))
        print(f"{label[path]:<14}{prep:>12.3f}{att:>14.3f}{tot:>10.3f}{flops / att / 1e9:>16.1f}", flush=True)
    for name, f in steps + [("e4m3 v (transposed)", v_transposed), ("e4m3 v (rows)", v_rows)]:
        ms = timed(f)
        print(f"  prepare: {name:<22}{ms:>8.3f} ms", flush=True)
    signal.alarm(0)
    ok = finite and nmse <= args.bound and scales_ok and lean_ok
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


main()
