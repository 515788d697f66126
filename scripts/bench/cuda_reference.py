"""PyTorch timings of the ops `turbodiffusion bench cuda` measures, for the ratio column.

Run on the GPU machine beside the Swift benchmark:
    turbodiffusion bench cuda --json > ours.jsonl
    python3 scripts/bench/cuda_reference.py ours.jsonl
Prints a table of both (median of 10 after warm-up; PyTorch timed with CUDA events) and the
ratio ours/PyTorch in rate (above 1 means we are faster). Without an argument it prints
PyTorch's rows as JSON lines.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda"))
from gpu_timing import median_ms  # noqa: E402


def main():
    n, elements = 8192, 1 << 26
    a = torch.rand(n, n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    b = torch.rand(n, n, device="cuda", dtype=torch.bfloat16) * 2 - 1
    x = torch.rand(elements // 4096, 4096, device="cuda") * 2 - 1
    row = torch.arange(4096, device="cuda", dtype=torch.float32) % 7 + 0.5
    nbytes = elements * 4
    rows = []
    t = median_ms(lambda: a @ b.T, 10, warmup=3)
    rows.append((f"matmul bf16 {n}³ Bᵀ → bf16", t, 2 * n ** 3 / t / 1e9, "TFLOP/s"))
    for name, fn, moved in [("copy f32 (ceiling)", lambda: x.clone(), 2),
                            ("add f32 + broadcast row", lambda: x + row, 2),
                            ("silu f32", lambda: torch.nn.functional.silu(x), 2),
                            ("convert f32 → bf16", lambda: x.to(torch.bfloat16), 1.5),
                            ("softmax f32 rows of 4096", lambda: x.softmax(-1), 2)]:
        t = median_ms(fn, 10, warmup=3)
        rows.append((name, t, moved * nbytes / t / 1e6, "GB/s"))
    if len(sys.argv) < 2:
        for r in rows:
            print(json.dumps({"op": r[0], "ms": r[1], "rate": r[2], "unit": r[3]}, ensure_ascii=False))
        return 0
    ours = {d["op"]: d for d in map(json.loads, open(sys.argv[1]))}
    print(f"{torch.cuda.get_device_name()}  (torch {torch.__version__})")
    print(f"{'op':30} {'ours':>10} {'PyTorch':>10} {'unit':8} {'ratio':>6}")
    for op, _, rate, unit in rows:
        mine = ours.get(op, {}).get("rate", float("nan"))
        print(f"{op:30} {mine:10.1f} {rate:10.1f} {unit:8} {mine / rate:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
