"""PyTorch timings of the ops `turbodiffusion bench cuda` measures, for the ratio column.

Run on the GPU machine beside the Swift benchmark:  python3 scripts/bench/cuda_reference.py
Prints the same rows as `bench cuda --json` (median of 10 after warm-up, CUDA events).
"""
import json
import sys

import torch


def median_ms(fn, reps=10):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def main():
    n, elements = 8192, 1 << 26
    a = torch.rand(n, n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    b = torch.rand(n, n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    x = torch.rand(elements // 4096, 4096, device="cuda") * 2 - 1
    row = torch.arange(4096, device="cuda", dtype=torch.float32) % 7 + 0.5
    nbytes = elements * 4
    rows = []
    t = median_ms(lambda: a @ b.T)
    rows.append((f"matmul bf16 {n}³ Bᵀ → bf16", t, 2 * n ** 3 / t / 1e9, "TFLOP/s"))
    for name, fn, moved in [("copy f32 (ceiling)", lambda: x.clone(), 2),
                            ("add f32 + broadcast row", lambda: x + row, 2),
                            ("silu f32", lambda: torch.nn.functional.silu(x), 2),
                            ("convert f32 → bf16", lambda: x.to(torch.bfloat16), 1.5),
                            ("softmax f32 rows of 4096", lambda: x.softmax(-1), 2)]:
        t = median_ms(fn)
        rows.append((name, t, moved * nbytes / t / 1e6, "GB/s"))
    for r in rows:
        print(json.dumps({"op": r[0], "ms": r[1], "rate": r[2], "unit": r[3]}, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
