#!/usr/bin/env python3
"""Check and time the fused attention kernels on a GPU without Swift (CuPy + PyTorch).

    python3 scripts/cuda/bench_attention.py [--L 32760] [--heads 12] [--quick] [--arch sm_90]

Compiles Kernels/common.cu + flash_attention.cu (td_fa2_*, once per FA2_SUB_WIDE in 16/32/64)
and common.cu + attention.cu (td_flash_attn_*, v1) with CuPy's NVRTC, builds q/k/v in the DiT
layout (x.view(1, L, H, D).permute(0, 2, 1, 3) of a contiguous [L, H·D]), launches the kernels
exactly as CUDABackend does (argument order and types, grid, block, dynamic shared memory) and

1. checks them on odd shapes (bf16/f16, D 64/128, L not a multiple of the tiles) against fp32
   attention on the upcast inputs, dense and block-sparse (random block maps with the last
   partial block, blocks 128/64, 64/64, 128/128, 64/128, keep 1);
2. times dense attention at L tokens, H heads, D = 128, bf16 (median of 20 after warm-up, CUDA
   events), beside torch's SDPA in the same run, as TFLOP/s = 4·L²·D·H / time;
3. times the sparse kernel with a random block map, blocks 128/64, keep ⌊0.1·⌈L/64⌉⌋ key blocks
   per query block (SLA top-k 0.1), as time and effective TFLOP/s (4·D·H·Σ rows·keys / time).

Exits non-zero on any mismatch, NaN, unwritten output or error; a watchdog (faulthandler) ends
the run after --deadline seconds, printing where it hung. Outputs are poisoned with NaN before every checked launch.
"""
import argparse, faulthandler, os, sys, traceback

import numpy as np
import cupy
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_timing import median_ms  # noqa: E402
LOG2E = 1.4426950408889634
SUBS = (16, 32, 64)
failures = []
HOPPER_ONLY = False


# Files compiled before a family's own (as KernelFamily and check_kernels.py do).
PRELUDES = {"hopper_attention.cu": ["flash_attention.cu"]}
# Hopper kernels (hopper_attention.cu): name -> (kernel prefix, defines, threads, dynamic shared bytes).
TILE = 128 * 128 * 2
FA3_VARIANTS = {"fa3": ("td_fa3", (), 384, 7 * TILE + 1024 + 72)}


def source(name):
    parts = ["common.cu"] + PRELUDES.get(name, []) + [name]
    return "\n".join(open(os.path.join(KERNELS, p)).read() for p in parts)


def module(name, arch, defines=()):
    opts = ["--std=c++17", "-default-device"] + [f"-D{d}" for d in defines]
    if arch:
        opts.append(f"--gpu-architecture={arch}")
    return cupy.RawModule(code=source(name), options=tuple(opts))


def ptr(t):
    return np.uint64(t.data_ptr())


def row_strides(t):
    return [np.int64(0 if t.shape[i] == 1 else t.stride(i)) for i in range(3)]


def dit(l, h, d, dtype, b=1):
    """q, k, v as the DiT sees them: [B, H, L, D] views of contiguous [B, L, H·D] activations."""
    def one():
        return torch.randn(b, l, h * d, device="cuda", dtype=torch.float32).to(dtype).view(b, l, h, d).permute(0, 2, 1, 3)
    return one(), one(), one()


class Kernels:
    def __init__(self, arch):
        self.fa2 = {s: module("flash_attention.cu", arch, [f"FA2_SUB_WIDE={s}"]) for s in SUBS}
        self.v1 = module("attention.cu", arch)
        hopper = torch.cuda.get_device_capability() == (9, 0)
        self.fa3 = {n: module("hopper_attention.cu", "sm_90a", v[1]) for n, v in FA3_VARIANTS.items()} if hopper else {}
        self.stream = cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream)
        self.cache = {}

    def fn(self, mod, name, smem):
        key = (id(mod), name)
        if key in self.cache:
            return self.cache[key]
        f = mod.get_function(name)
        if smem > 48 * 1024:
            try:
                f.max_dynamic_shared_size_bytes = smem
            except AttributeError:   # older CuPy: raise the limit through the driver
                cupy.cuda.driver.funcSetAttribute(f.kernel.ptr, 8, smem)   # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        self.cache[key] = f
        regs, local = getattr(f, "num_regs", "?"), getattr(f, "local_size_bytes", "?")
        print(f"   loaded {name} ({[k for k, m in list(self.fa2.items()) + list(self.fa3.items()) if m is mod] or 'v1'}): {regs} registers, "
              f"{local} bytes local, {smem} bytes shared", flush=True)
        return f

    def dense(self, q, k, v, scale, out=None, sub=16, v1=False, fa3=None):
        b, h, lq, d = q.shape
        threads = 128
        lk = k.shape[2]
        out = torch.empty(b, h, lq, d, device="cuda", dtype=q.dtype) if out is None else out
        t = "bf16" if q.dtype == torch.bfloat16 else "f16"
        if fa3:
            prefix, _, threads, smem = FA3_VARIANTS[fa3]
            rows = 128
            f = self.fn(self.fa3[fa3], f"{prefix}_{t}_d{d}", smem)
        elif v1:
            rows, smem = 64, 3 * 64 * (d + 8) * 2
            f = self.fn(self.v1, f"td_flash_attn_{t}_d{d}", smem)
        else:
            rows, smem = 128, (128 + 4 * 64) * (d + 8) * 2
            f = self.fn(self.fa2[sub], f"td_fa2_{t}_d{d}", smem)
        args = [ptr(out), ptr(q), ptr(k), ptr(v), np.int64(lq), np.int64(lk), np.float32(scale * LOG2E)]
        args += row_strides(q) + row_strides(k) + row_strides(v) + row_strides(out)
        with self.stream:
            f(((lq + rows - 1) // rows, h, b), (threads if fa3 else 128, 1, 1), tuple(args), shared_mem=smem)
        return out

    def sparse(self, q, k, v, blocks, block_q, block_k, scale, out=None, sub=16):
        b, h, lq, d = q.shape
        lk = k.shape[2]
        mq, mk, keep = (lq + block_q - 1) // block_q, (lk + block_k - 1) // block_k, blocks.shape[3]
        out = torch.empty(b, h, lq, d, device="cuda", dtype=q.dtype) if out is None else out
        t = "bf16" if q.dtype == torch.bfloat16 else "f16"
        smem = (block_q + 4 * 64) * (d + 8) * 2
        f = self.fn(self.fa2[sub], f"td_fa2_sparse_{t}_d{d}_q{block_q}", smem)
        args = [ptr(out), ptr(q), ptr(k), ptr(v), ptr(blocks), np.int64(lq), np.int64(lk), np.int32(block_k),
                np.int32(keep), np.int32(mq), np.int32(mk), np.float32(scale * LOG2E)]
        args += row_strides(q) + row_strides(k) + row_strides(v) + row_strides(out)
        with self.stream:
            f((mq, h, b), (128, 1, 1), tuple(args), shared_mem=smem)
        return out


def block_map(b, h, lq, lk, block_q, block_k, keep, with_last=True):
    """Random sorted distinct key blocks per query block (i32 [B, H, mq, keep]); every third row
    holds the last (partial) key block."""
    mq, mk = (lq + block_q - 1) // block_q, (lk + block_k - 1) // block_k
    scores = torch.rand(b, h, mq, mk, device="cuda")
    if with_last:
        scores[:, :, ::3, mk - 1] = 2.0
    return scores.topk(keep, dim=-1).indices.sort(dim=-1).values.to(torch.int32).contiguous()


def sparse_reference(q, k, v, blocks, block_q, block_k, scale):
    """fp32 attention restricted to the listed blocks (duplicates not expected here)."""
    b, h, lq, d = q.shape
    lk = k.shape[2]
    mk = (lk + block_k - 1) // block_k
    sel = torch.zeros(b, h, blocks.shape[2], mk, dtype=torch.bool, device="cuda")
    sel.scatter_(3, blocks.long(), True)
    mask = sel.repeat_interleave(block_q, dim=2)[:, :, :lq].repeat_interleave(block_k, dim=3)[..., :lk]
    s = (q.float() @ k.float().transpose(-1, -2)) * scale
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v.float()


def nmse(got, ref):
    got, ref = got.float(), ref.float()
    if not torch.isfinite(got).all():
        return float("nan")
    return ((got - ref).pow(2).sum() / ref.pow(2).sum()).item()


def check(what, got, ref, bound):
    e = nmse(got, ref)
    ok = e <= bound
    print(f"{'ok  ' if ok else 'FAIL'} {what}: nmse {e:.2e} (bound {bound:.0e})", flush=True)
    if not ok:
        failures.append(what)


def checks(kern):
    print("== correctness (odd shapes, fp32 reference on the upcast inputs)", flush=True)
    for dtype in (torch.bfloat16, torch.float16):
        bound = 2e-4 if dtype == torch.bfloat16 else 1e-5
        for d in (64, 128):
            for lq, lk in ((1000, 777), (129, 4097), (1, 65)):
                q, k, v = dit(lq, 3, d, dtype)
                k, v = dit(lk, 3, d, dtype)[1:]
                scale = d ** -0.5
                ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), scale=scale)
                for sub in () if HOPPER_ONLY else SUBS:
                    out = torch.full((1, 3, lq, d), float("nan"), device="cuda", dtype=dtype)
                    kern.dense(q, k, v, scale, out=out, sub=sub)
                    check(f"fa2 dense {str(dtype)[6:]} D={d} Lq={lq} Lk={lk} sub {sub}", out, ref, bound)
                for variant in (kern.fa3 if d == 128 else {}):
                    out = torch.full((1, 3, lq, d), float("nan"), device="cuda", dtype=dtype)
                    kern.dense(q, k, v, scale, out=out, fa3=variant)
                    check(f"{variant} dense {str(dtype)[6:]} D={d} Lq={lq} Lk={lk}", out, ref, bound)
                if HOPPER_ONLY:
                    continue
                out = torch.full((1, 3, lq, d), float("nan"), device="cuda", dtype=dtype)
                kern.dense(q, k, v, scale, out=out, v1=True)
                check(f"v1  dense {str(dtype)[6:]} D={d} Lq={lq} Lk={lk}", out, ref, bound)
            for (bq, bk, keep, lq, lk) in () if HOPPER_ONLY else ((128, 64, 3, 1000, 777), (64, 64, 1, 333, 500), (128, 128, 2, 300, 650),
                                           (64, 128, 2, 257, 1000), (128, 64, 1, 129, 65)):
                q, k, v = dit(lq, 2, d, dtype, b=2)
                k, v = dit(lk, 2, d, dtype, b=2)[1:]
                blocks = block_map(2, 2, lq, lk, bq, bk, keep)
                scale = d ** -0.5
                ref = sparse_reference(q, k, v, blocks, bq, bk, scale)
                for sub in SUBS:
                    out = torch.full((2, 2, lq, d), float("nan"), device="cuda", dtype=dtype)
                    kern.sparse(q, k, v, blocks, bq, bk, scale, out=out, sub=sub)
                    check(f"fa2 sparse {str(dtype)[6:]} D={d} Lq={lq} Lk={lk} blocks {bq}/{bk} keep {keep} sub {sub}",
                          out, ref, bound)
    torch.cuda.synchronize()


def timings(kern, L, H, D):
    dtype = torch.bfloat16
    scale = D ** -0.5
    q, k, v = dit(L, H, D, dtype)
    flops = 4.0 * L * L * D * H
    rows = []
    sdpa = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, scale=scale), warmup=3)
    ref = F.scaled_dot_product_attention(q, k, v, scale=scale)
    rows.append(("torch SDPA (dense)", sdpa, flops))
    print(f"== dense L={L} H={H} D={D} bf16 (DiT views), {flops / 1e12:.1f} TFLOP", flush=True)
    others = [] if HOPPER_ONLY else [(f"td_fa2 sub {s}", (lambda s=s: kern.dense(q, k, v, scale, sub=s))) for s in SUBS] + \
                                    [("td_flash_attn v1", lambda: kern.dense(q, k, v, scale, v1=True))]
    for name, call in others + \
                      [(f"td_{n}", (lambda n=n: kern.dense(q, k, v, scale, fa3=n))) for n in kern.fa3]:
        out = call()
        check(f"{name} vs SDPA at L={L}", out, ref, 2e-4)
        rows.append((name, median_ms(call, warmup=3), flops))

    if HOPPER_ONLY:
        return summary(rows)
    # Sparse: SLA top-k 0.1, blocks 128/64.
    bq, bk = 128, 64
    mk = (L + bk - 1) // bk
    keep = max(1, int(0.1 * mk))
    blocks = block_map(1, H, L, L, bq, bk, keep, with_last=False)
    mq = blocks.shape[2]
    keys = torch.clamp(L - blocks.long() * bk, max=bk).sum(dim=-1).float()          # [1, H, mq] keys per query block
    qrows = torch.clamp(L - torch.arange(mq, device="cuda") * bq, max=bq).float()
    sflops = 4.0 * D * float((keys * qrows).sum().item())
    print(f"== sparse L={L} H={H} D={D} bf16 blocks {bq}/{bk} keep {keep}/{mk}, {sflops / 1e12:.2f} effective TFLOP",
          flush=True)
    # Check a slice of query blocks against the masked fp32 reference (the whole L×L mask is too big).
    nq = 8
    qs = q[:, :, :nq * bq]
    sub_ref = sparse_reference(qs, k, v, blocks[:, :, :nq], bq, bk, scale)
    for s in SUBS:
        out = kern.sparse(q, k, v, blocks, bq, bk, scale, sub=s)
        check(f"td_fa2_sparse sub {s} at L={L} (first {nq} query blocks)", out[:, :, :nq * bq], sub_ref, 2e-4)
        rows.append((f"td_fa2_sparse sub {s}", median_ms(lambda s=s: kern.sparse(q, k, v, blocks, bq, bk, scale, sub=s), warmup=3),
                     sflops))
    summary(rows)


def summary(rows):
    print("\n== summary (median of 20, CUDA events)")
    print(f"{'kernel':28s} {'ms':>9s} {'TFLOP/s':>9s}")
    for name, ms, fl in rows:
        print(f"{name:28s} {ms:9.3f} {fl / ms / 1e9:9.1f}")
    print(f"(targets: dense >= 550 TFLOP/s; sparse <= 3.15 ms, TurboDiffusion's Triton kernel at L=32760)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--L", type=int, default=32760)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--D", type=int, default=128)
    ap.add_argument("--arch", default="", help="NVRTC --gpu-architecture (default: CuPy's choice for the device)")
    ap.add_argument("--quick", action="store_true", help="skip the odd-shape checks")
    ap.add_argument("--hopper", action="store_true", help="only the Hopper kernels (td_fa3*) beside SDPA")
    ap.add_argument("--deadline", type=int, default=540)
    args = ap.parse_args()
    global HOPPER_ONLY
    HOPPER_ONLY = args.hopper
    # A C-level watchdog: fires even while the main thread waits inside a CUDA call.
    faulthandler.dump_traceback_later(args.deadline, exit=True)
    torch.backends.cuda.matmul.allow_tf32 = False   # fp32 references in true fp32
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    print(f"device {torch.cuda.get_device_name()} cc {torch.cuda.get_device_capability()} torch {torch.__version__} "
          f"cupy {cupy.__version__}", flush=True)
    try:
        kern = Kernels(args.arch)
        if not args.quick:
            checks(kern)
        timings(kern, args.L, args.heads, args.D)
    except Exception:
        traceback.print_exc()
        failures.append("exception")
    if failures:
        print(f"FAILED: {len(failures)}: {', '.join(failures[:10])}", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)


main()
