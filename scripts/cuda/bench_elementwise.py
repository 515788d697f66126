#!/usr/bin/env python3
"""Check and time the dense elementwise kernels (the `_dense` kernels of
Sources/BackendCUDA/Kernels/elementwise.cu) on the GPU machine without Swift: CuPy compiles
common.cu + elementwise.cu with NVRTC (as KernelFamily does) and launches them on torch tensors.

    python3 scripts/cuda/bench_elementwise.py [--repeat 20] [--arch sm_90a] [--skip-checks] [--skip-times]
                                              [--blocks-per-sm 64]

1. Checks, on odd lengths (1, 7, 1023, 100003), element offsets that break 16-byte alignment
   (1, 3, 4, 8) and every f32/bf16/f16 mix, inputs salted with NaN, ±inf, −0 and subnormals, that
   each dense kernel's output is bit-identical to the generic kernel's (td_convert, td_unary,
   td_binary on the same dense views; for rows also the scalar td_binary_rows the dense one
   replaced, kept below as OLD_ROWS), and that conversions, add and mul equal torch's (values;
   NaN payloads may differ: torch rounds NaN to bf16 in software). GELU-tanh is compared with
   torch's gelu(approximate="tanh") for information only: its formula groups the cube differently.
2. Times, on the Wan 1.3B 480p DiT shapes (32 760 tokens), the dense kernel, the generic kernel
   it replaces and torch's op (CUDA events, median of --repeat after a warm-up), as ms and GB/s
   (bytes read + written once), next to a device-to-device copy of the same bytes.

The launch split and grid follow DenseSplit (Sources/BackendCUDA/DenseElementwise.swift); the
generic kernels' grid follows elementwiseGrid (Launch.swift). --blocks-per-sm overrides the dense
kernels' cap (DenseSplit.blocksPerMultiprocessor) to try another. Exits non-zero when anything differs.
"""
import argparse, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_timing import median_ms  # noqa: E402
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
GROUP, BLOCK, BLOCKS_PER_SM = 8, 256, 64          # DenseSplit.group, .blockSize, .blocksPerMultiprocessor
CODES = {"f32": 0, "bf16": 1, "f16": 2}
UNARY = {"neg": 0, "exp": 1, "sqrt": 2, "rsqrt": 3, "square": 4, "tanh": 5, "sigmoid": 6, "silu": 7,
         "geluTanh": 8, "geluErf": 9, "affine": 100}
BINARY = {"add": 0, "sub": 1, "mul": 2, "div": 3, "maximum": 4, "minimum": 5}
TOKENS = 32760

# The scalar row-broadcast kernel the dense one replaced, verbatim, as the baseline.
OLD_ROWS = r'''
extern "C" __global__ void td_binary_rows(void* out, int out_dt, const void* a, int a_dt, i64 a_off,
                                          const void* b, int b_dt, i64 b_off, i64 cols, i64 n, int op) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        const float x = load_float(a, a_off + i, a_dt);
        const float y = load_float(b, b_off + i % cols, b_dt);
        store_float(out, i, out_dt, binary_op(op, x, y));
    }
}
'''


def source():
    read = lambda f: open(os.path.join(KERNELS, f)).read()
    return "\n".join([read("common.cu"), read("elementwise.cu"), OLD_ROWS])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--arch", default="sm_90a")
    ap.add_argument("--skip-checks", action="store_true")
    ap.add_argument("--skip-times", action="store_true")
    ap.add_argument("--blocks-per-sm", type=int, default=BLOCKS_PER_SM)
    args = ap.parse_args()

    import numpy as np
    import cupy as cp
    import torch

    tdt = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
    mod = cp.RawModule(code=source(), options=("--std=c++17", "-default-device", f"-arch={args.arch}"), backend="nvrtc")
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    fn = {}
    kernel = lambda name: fn.setdefault(name, mod.get_function(name))
    ptr = lambda t: np.uint64(t.data_ptr())
    strided_dtype = np.dtype([("linear", "<i8"), ("offset", "<i8"), ("size", "<i8", (8,)), ("stride", "<i8", (8,))])

    def strided(rows=None, cols=None):
        """The `Strided` struct, passed by value as CuPy passes a one-element structured array: a
        dense view (linear), or one row of `cols` repeated over `rows` (strides 0, 1)."""
        s = np.zeros(1, dtype=strided_dtype)
        s["size"] = 1
        if rows is None:
            s["linear"] = 1
        else:
            s["size"][0, 6], s["size"][0, 7] = rows, cols
            s["stride"][0, 6], s["stride"][0, 7] = 0, 1
        return s

    def split(n, operands):
        """DenseSplit(count: n, operands: [(address, elementSize)]): (head, groups)."""
        for h in range(GROUP):
            if all((a + h * size) % 16 == 0 for a, size in operands):
                if n - h >= GROUP:
                    return h, (n - h) // GROUP
                break
        return n, 0

    def dense_grid(head, groups, n):
        work = max(groups, n - GROUP * groups)
        return max(1, min(-(-work // BLOCK), sms * args.blocks_per_sm))

    def generic_grid(n):
        return max(1, min(-(-n // BLOCK), sms * 32))

    name_of = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}

    def launch_dense(stem, out, operands, leading, trailing=()):
        head, groups = split(out.numel(), [(t.data_ptr(), t.element_size()) for t in [out] + operands])
        n = out.numel()
        kernel(stem)((dense_grid(head, groups, n),), (BLOCK,),
                     tuple(leading) + (np.int64(head), np.int64(groups), np.int64(n)) + tuple(trailing))
        return head, groups

    # The dense kernels and their generic baselines; outputs are allocated by the caller.
    def convert_new(out, x):
        return launch_dense(f"td_convert_dense_{name_of[x.dtype]}_{name_of[out.dtype]}", out, [x], (ptr(out), ptr(x)))

    def convert_old(out, x):
        kernel("td_convert")((generic_grid(x.numel()),), (BLOCK,),
                             (ptr(out), np.int32(CODES[name_of[out.dtype]]), ptr(x), np.int32(CODES[name_of[x.dtype]]),
                              strided(), np.int64(x.numel())))

    def unary_new(out, x, op, p0=0.0, p1=0.0):
        return launch_dense(f"td_unary_dense_{name_of[x.dtype]}", out, [x], (ptr(out), ptr(x)),
                            (np.int32(UNARY[op]), np.float32(p0), np.float32(p1)))

    def unary_old(out, x, op, p0=0.0, p1=0.0):
        kernel("td_unary")((generic_grid(x.numel()),), (BLOCK,),
                           (ptr(out), ptr(x), np.int32(CODES[name_of[x.dtype]]), strided(), np.int64(x.numel()),
                            np.int32(UNARY[op]), np.float32(p0), np.float32(p1)))

    def binary_new(out, a, b, op):
        return launch_dense(f"td_binary_dense_{name_of[a.dtype]}_{name_of[b.dtype]}", out, [a, b], (ptr(out), ptr(a), ptr(b)),
                            (np.int32(BINARY[op]),))

    def binary_old(out, a, b, op, rows=None, cols=None):
        kernel("td_binary")((generic_grid(out.numel()),), (BLOCK,),
                            (ptr(out), np.int32(CODES[name_of[out.dtype]]), ptr(a), np.int32(CODES[name_of[a.dtype]]), strided(),
                             ptr(b), np.int32(CODES[name_of[b.dtype]]), strided(rows, cols), np.int64(out.numel()),
                             np.int32(BINARY[op])))

    def rows_new(out, a, row, op):
        n, cols = out.numel(), row.numel()
        head, groups = split(n, [(out.data_ptr(), out.element_size()), (a.data_ptr(), a.element_size())])
        in_groups = groups > 0 and head == 0 and cols % GROUP == 0 and row.data_ptr() % 16 == 0
        kernel(f"td_binary_rows_dense_{name_of[out.dtype]}_{name_of[a.dtype]}_{name_of[row.dtype]}")(
            (dense_grid(head, groups, n),), (BLOCK,),
            (ptr(out), ptr(a), ptr(row), np.int64(cols), np.int32(int(in_groups)), np.int64(head), np.int64(groups),
             np.int64(n), np.int32(BINARY[op])))
        return head, groups, in_groups

    def rows_old(out, a, row, op):
        kernel("td_binary_rows")((generic_grid(out.numel()),), (BLOCK,),
                                 (ptr(out), np.int32(CODES[name_of[out.dtype]]), ptr(a), np.int32(CODES[name_of[a.dtype]]),
                                  np.int64(0), ptr(row), np.int32(CODES[name_of[row.dtype]]), np.int64(0),
                                  np.int64(row.numel()), np.int64(out.numel()), np.int32(BINARY[op])))

    def poisoned(n, dtype):
        return torch.full((n,), float("nan"), dtype=dtype, device="cuda")

    def salted(n, dtype, offset, g, positive=False):
        """n values at element `offset` of a fresh buffer, with special values mixed in."""
        base = torch.randn(n + offset, generator=g, device="cuda") * 3
        if positive:
            base = base.abs() + 0.05
        specials = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e-40, -3e-39, 7e4, -1e5],
                                device="cuda")
        k = min(len(specials), n // 5)
        if k:
            where = torch.randperm(n, generator=g, device="cuda")[:k] + offset
            base[where] = specials[:k]
        return base.to(dtype)[offset:]

    bits = lambda t: t.contiguous().view(torch.uint8)
    same_bits = lambda x, y: x.shape == y.shape and x.dtype == y.dtype and torch.equal(bits(x), bits(y))

    def same_values(x, y):
        """Equal values, zeros' signs included, any NaN equal to any NaN."""
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        xf, yf = x.float(), y.float()
        both_nan = torch.isnan(xf) & torch.isnan(yf)
        equal = (xf == yf) & (torch.signbit(xf) == torch.signbit(yf))
        return bool((both_nan | equal).all())

    bad, passed = [], [0]

    def verdict(label, checks):
        """Prints mismatches only (there are ~1600 checks); the summary line counts the rest."""
        if all(checks.values()):
            passed[0] += 1
            return
        bad.append(label)
        print(f"check {label}: MISMATCH: " + ", ".join(f"{k} {'identical' if v else 'DIFFERS'}" for k, v in checks.items()),
              flush=True)

    if not args.skip_checks:
        g = torch.Generator(device="cuda").manual_seed(7)
        dts = ["f32", "bf16", "f16"]
        lengths, offsets = [1, 7, 1023, 100003], [0, 1, 3, 4, 8]
        for src in dts:
            for dst in dts:
                if src == dst:
                    continue
                for n in lengths:
                    for off in offsets:
                        x = salted(n, tdt[src], off, g)
                        new, old = poisoned(n, tdt[dst]), poisoned(n, tdt[dst])
                        head, groups = convert_new(new, x)
                        convert_old(old, x)
                        verdict(f"convert {src}->{dst} n {n} offset {off} (head {head}, groups {groups})",
                                {"vs generic": same_bits(new, old), "vs torch": same_values(new, x.to(tdt[dst]))})
        for dt in dts:
            for op in UNARY:
                for n in [7, 1023, 100003]:
                    for off in [0, 1, 8]:
                        x = salted(n, tdt[dt], off, g, positive=op in ("sqrt", "rsqrt"))
                        new, old = poisoned(n, tdt[dt]), poisoned(n, tdt[dt])
                        p = (1.5, -0.25) if op == "affine" else (0.0, 0.0)
                        head, groups = unary_new(new, x, op, *p)
                        unary_old(old, x, op, *p)
                        verdict(f"unary {op} {dt} n {n} offset {off} (head {head}, groups {groups})", {"vs generic": same_bits(new, old)})
            x = salted(100003, tdt[dt], 0, g)
            new = poisoned(100003, tdt[dt])
            unary_new(new, x, "geluTanh")
            ref = torch.nn.functional.gelu(x.float(), approximate="tanh").to(tdt[dt])
            differ = (~((new.float() == ref.float()) | (torch.isnan(new.float()) & torch.isnan(ref.float())))).sum().item()
            print(f"info  geluTanh {dt} vs torch gelu(approximate='tanh'): {differ} of 100003 elements differ", flush=True)
        for da in dts:
            for db in dts:
                for op in BINARY:
                    for n in [7, 1023, 100003]:
                        for off in [0, 1, 4, 8]:
                            a = salted(n, tdt[da], 0, g)
                            b = salted(n, tdt[db], off, g, positive=op == "div")
                            new, old = poisoned(n, tdt[da]), poisoned(n, tdt[da])
                            head, groups = binary_new(new, a, b, op)
                            binary_old(old, a, b, op)
                            checks = {"vs generic": same_bits(new, old)}
                            if op in ("add", "mul"):
                                ref = (a.float() + b.float()) if op == "add" else (a.float() * b.float())
                                checks["vs torch"] = same_values(new, ref.to(tdt[da]))
                            verdict(f"binary {op} {da}⊙{db} n {n} b offset {off} (head {head}, groups {groups})", checks)
                # Rows: odd columns, fewer than a group, a multiple of 8 (row in groups), a scalar.
                for rows, cols in [(37, 9), (129, 3), (33, 64), (1031, 1), (40, 1536)]:
                    for a_off, row_off in [(0, 0), (0, 3), (1, 0)]:
                        for op, swapped in [("add", False), ("mul", False), ("sub", False), ("maximum", False), ("mul", True)]:
                            n = rows * cols
                            a = salted(n, tdt[da], a_off, g)
                            row = salted(cols, tdt[db], row_off, g)
                            # Swapped: add/mul with the row first (out in the row's dtype).
                            out_dt = tdt[db] if swapped else tdt[da]
                            new, old, generic = poisoned(n, out_dt), poisoned(n, out_dt), poisoned(n, out_dt)
                            head, groups, in_groups = rows_new(new, a, row, op)
                            rows_old(old, a, row, op)
                            binary_old(generic, a, row, op, rows, cols)
                            checks = {"vs old rows": same_bits(new, old), "vs generic": same_bits(new, generic)}
                            if op in ("add", "mul") and not swapped:
                                ref = a.float().view(rows, cols) + row.float() if op == "add" else a.float().view(rows, cols) * row.float()
                                checks["vs torch"] = same_values(new, ref.reshape(-1).to(out_dt))
                            verdict(f"rows {op}{' (row first)' if swapped else ''} {da}⊙{db} [{rows},{cols}] offsets {a_off}/{row_off} "
                                    f"(head {head}, groups {groups}, row in groups {in_groups})", checks)
        torch.cuda.synchronize()
        print(f"checks: {passed[0]} identical, {len(bad)} differ", flush=True)

    timed = lambda f: median_ms(f, args.repeat)

    def report(label, nbytes, times):
        rate = lambda t: nbytes / t / 1e6
        print(f"time  {label:44} " + " | ".join(f"{k} {t:.3f} ms {rate(t):.0f} GB/s" for k, t in times.items())
              + f" | generic/dense {times['generic'] / times['dense']:.2f}x, torch/dense {times['torch'] / times['dense']:.2f}x",
              flush=True)

    if not args.skip_times:
        g = torch.Generator(device="cuda").manual_seed(3)
        copy_src = torch.empty(TOKENS * 8960, dtype=torch.bfloat16, device="cuda")
        copy_dst = torch.empty_like(copy_src)
        t_copy = timed(lambda: copy_dst.copy_(copy_src))
        print(f"time  device-to-device copy {copy_src.numel() * 2 >> 20} MiB: {t_copy:.3f} ms "
              f"{2 * copy_src.numel() * 2 / t_copy / 1e6:.0f} GB/s (read + write)", flush=True)

        x = torch.randn(TOKENS, 8960, generator=g, device="cuda").bfloat16()
        out = torch.empty_like(x)
        report("geluTanh bf16 [32760,8960]", 2 * x.numel() * 2, {
            "dense": timed(lambda: unary_new(out, x, "geluTanh")), "generic": timed(lambda: unary_old(out, x, "geluTanh")),
            "torch": timed(lambda: torch.nn.functional.gelu(x, approximate="tanh"))})
        del x, out

        a = torch.randn(TOKENS, 1536, generator=g, device="cuda")
        b = torch.randn(TOKENS, 1536, generator=g, device="cuda")
        out = torch.empty_like(a)
        report("add f32 [32760,1536] + [32760,1536]", 3 * a.numel() * 4, {
            "dense": timed(lambda: binary_new(out, a, b, "add")), "generic": timed(lambda: binary_old(out, a, b, "add")),
            "torch": timed(lambda: torch.add(a, b))})
        for row_dt in ["f32", "bf16"]:
            row = torch.randn(1536, generator=g, device="cuda").to(tdt[row_dt])
            for op in ["add", "mul"]:
                report(f"{op} f32 [32760,1536] ⊙ {row_dt} row [1536]", 2 * a.numel() * 4, {
                    "dense": timed(lambda: rows_new(out, a, row, op)), "generic": timed(lambda: rows_old(out, a, row, op)),
                    "torch": timed(lambda: (a + row) if op == "add" else (a * row))})
        ab = a.bfloat16()
        outb = torch.empty_like(ab)
        rowb = torch.randn(1536, generator=g, device="cuda").bfloat16()
        report("mul bf16 [32760,1536] ⊙ bf16 row [1536]", 2 * ab.numel() * 2, {
            "dense": timed(lambda: rows_new(outb, ab, rowb, "mul")), "generic": timed(lambda: rows_old(outb, ab, rowb, "mul")),
            "torch": timed(lambda: ab * rowb)})
        report("convert f32 -> bf16 [32760,1536]", a.numel() * 6, {
            "dense": timed(lambda: convert_new(outb, a)), "generic": timed(lambda: convert_old(outb, a)),
            "torch": timed(lambda: a.to(torch.bfloat16))})
        report("convert bf16 -> f32 [32760,1536]", a.numel() * 6, {
            "dense": timed(lambda: convert_new(out, ab)), "generic": timed(lambda: convert_old(out, ab)),
            "torch": timed(lambda: ab.float())})

    print(f"RESULT {'FAILED: ' + '; '.join(bad[:20]) + (' …' if len(bad) > 20 else '') if bad else 'all identical'}", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
