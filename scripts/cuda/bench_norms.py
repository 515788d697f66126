#!/usr/bin/env python3
"""Time norms.cu's row norms (Sources/BackendCUDA/Kernels/norms.cu, modulation.cu) with both of
rowNormLaunch's launch shapes, on the GPU machine without Swift: CuPy compiles common.cu + norms.cu
+ modulation.cu with NVRTC, as the engine's kernel families do.

    python3 scripts/cuda/bench_norms.py [--repeat 20] [--arch sm_90a]

Launch shapes (CUDABackend.rowNormLaunch): "block", a block of ~units/2 threads per row (block_sum,
two barriers per pass), and "warp", a warp per row, 4 rows a block (warp_sum, no barrier). The
engine takes the warp shape for rows of at most 512 groups of 4 (every 1.3B row) and the block shape
above that; both are timed on every shape here, so the limit can be set from measurements.
Shapes: the Wan DiT's rmsNormRotary on q/k (bf16 [L, C], C = heads·128, f32 tables) and
modulatedLayerNorm (f32 residual stream → bf16) at 1.3B 480p (L = 32760, C = 1536) and 14B 720p
(L = 75600, C = 5120). Checks: the two shapes' results agree with each other and with a float64
PyTorch reference to within bf16 rounding (their fp32 sums differ in order only). Times: CUDA
events, median of --repeat; GB/s counts x read once and out written once, against torch's copy of
the same bytes (the ceiling) and torch's own norm (F.rms_norm / F.layer_norm, no rotary).
"""
import argparse, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_timing import median_ms  # noqa: E402
# (label, tokens, heads) with head dim 128.
SHAPES = [("1.3B 480p", 32760, 12), ("14B 720p", 75600, 40)]
WARP_ROWS_PER_BLOCK = 4


def source():
    read = lambda f: open(os.path.join(KERNELS, f)).read()
    return "\n".join([read("common.cu"), read("norms.cu"), read("modulation.cu")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--arch", default="sm_90a")
    args = ap.parse_args()

    import numpy as np
    import cupy as cp
    import torch
    import torch.nn.functional as F

    mod = cp.RawModule(code=source(), options=("--std=c++17", "-default-device", f"-arch={args.arch}"), backend="nvrtc")
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    ptr = lambda t: np.uint64(t.data_ptr())
    strided = np.zeros(1, dtype=np.dtype([("linear", "<i8"), ("offset", "<i8"), ("size", "<i8", (8,)), ("stride", "<i8", (8,))]))
    strided["linear"], strided["size"] = 1, 1   # a dense view
    f_rot, f_mod = mod.get_function("td_rms_norm_rotary"), mod.get_function("td_modulated_layer_norm")
    f_rot32 = mod.get_function("td_rms_norm_rotary_u32")   # the candidate: 32-bit in-row indices

    def launch_shape(rows, cols, per_warp):
        """rowNormLaunch for a dense, aligned row of a multiple of 4: (block, grid, shared bytes)."""
        if per_warp:
            return 32 * WARP_ROWS_PER_BLOCK, max(1, min(-(-rows // WARP_ROWS_PER_BLOCK), sms * 64)), WARP_ROWS_PER_BLOCK * cols * 4
        units = cols // 4
        return min(1024, max(64, ((units + 1) // 2 + 31) // 32 * 32)), max(1, min(rows, sms * 64)), cols * 4

    timed = lambda f: median_ms(f, args.repeat)

    bad = []

    def agree(label, got, ref, bound):
        err = ((got.double() - ref) ** 2).mean().item() / max((ref ** 2).mean().item(), 1e-30)
        ok = err <= bound and torch.isfinite(got.float()).all().item()
        if not ok:
            bad.append(label)
        return f"{label} NMSE {err:.2e} {'ok' if ok else 'FAILS (bound %.0e)' % bound}"

    for name, tokens, heads in SHAPES:
        cols, half = heads * 128, 64
        g = torch.Generator(device="cuda").manual_seed(tokens + heads)
        q = (torch.randn(tokens, cols, device="cuda", generator=g) * 2).bfloat16()
        w = (torch.rand(cols, device="cuda", generator=g) + 0.5).bfloat16()
        ang = torch.rand(tokens, half, device="cuda", generator=g) * 6.3
        cos_t, sin_t = ang.cos(), ang.sin()
        resid = torch.randn(tokens, cols, device="cuda", generator=g) * 3
        scale, shift = torch.randn(cols, device="cuda", generator=g) * 0.1, torch.randn(cols, device="cuda", generator=g) * 0.1

        # float64 references
        qd = q.double()
        normed = (qd * torch.rsqrt((qd ** 2).mean(-1, keepdim=True) + 1e-6) * w.double()).view(tokens, heads, half, 2)
        c, s_ = cos_t.double()[:, None, :], sin_t.double()[:, None, :]
        rot_ref = torch.stack([normed[..., 0] * c - normed[..., 1] * s_, normed[..., 0] * s_ + normed[..., 1] * c], -1).view(tokens, cols)
        rd = resid.double()
        mod_ref = (rd - rd.mean(-1, keepdim=True)) / torch.sqrt(rd.var(-1, correction=0, keepdim=True) + 1e-6) \
            * (1 + scale.double()) + shift.double()

        outs, times = {}, {}
        # "warp+cache": the warp shape with its rows cached even past 48 KiB a block (opt-in shared memory),
        # which the engine does not do yet: whether wide rows (the 14B's) want it.
        modes = ("block", "warp") + (("warp+cache",) if launch_shape(tokens, cols, True)[2] > 48 * 1024 else ())
        for mode in modes:
            per_warp = mode != "block"
            block, grid, smem = launch_shape(tokens, cols, per_warp)
            cached = smem <= 48 * 1024 or mode == "warp+cache"
            if cached and smem > 48 * 1024:
                f_rot.max_dynamic_shared_size_bytes = f_rot32.max_dynamic_shared_size_bytes = f_mod.max_dynamic_shared_size_bytes = smem
            rot_out = torch.full((tokens, cols), float("nan"), dtype=torch.bfloat16, device="cuda")
            mod_out = torch.full((tokens, cols), float("nan"), dtype=torch.bfloat16, device="cuda")
            rot_launch = lambda f, dst: f((grid,), (block,), (ptr(dst), ptr(q), np.int32(1), strided, np.int64(1), np.int64(tokens),
                                                    np.int64(cols), np.int32(1), np.int32(int(cached)), np.int32(int(per_warp)),
                                                    ptr(w), np.int32(1), np.float32(1e-6), np.int64(tokens), np.int64(half),
                                                    ptr(cos_t), np.int32(0), ptr(sin_t), np.int32(0)),
                                shared_mem=smem if cached else 0)
            rot = lambda: rot_launch(f_rot, rot_out)
            rot32_out = torch.full((tokens, cols), float("nan"), dtype=torch.bfloat16, device="cuda")
            rot32 = lambda: rot_launch(f_rot32, rot32_out)
            modln = lambda: f_mod((grid,), (block,), (ptr(mod_out), np.int32(1), ptr(resid), np.int32(0), strided, np.int64(1),
                                                      np.int64(tokens), np.int64(cols), np.int32(1), np.int32(int(cached)),
                                                      np.int32(int(per_warp)), ptr(scale), np.int32(0), ptr(shift), np.int32(0),
                                                      np.float32(1e-6)),
                                  shared_mem=smem if cached else 0)
            rot(); rot32(); modln(); torch.cuda.synchronize()
            same32 = torch.equal(rot32_out.view(torch.int16), rot_out.view(torch.int16))
            if not same32:
                bad.append(f"{name} {mode}: td_rms_norm_rotary_u32 differs from td_rms_norm_rotary")
            outs[mode] = (rot_out.clone(), mod_out.clone())
            times[mode] = (timed(rot), timed(modln), block, grid, timed(rot32), same32)
            print(f"check {name} {mode:10}: " + agree("rmsNormRotary vs float64", rot_out, rot_ref, 1e-4) + "; "
                  + agree("modulatedLayerNorm vs float64", mod_out, mod_ref, 1e-4), flush=True)
        print(f"check {name} warp vs block: " + agree("rmsNormRotary", outs["warp"][0], outs["block"][0].double(), 1e-5) + "; "
              + agree("modulatedLayerNorm", outs["warp"][1], outs["block"][1].double(), 1e-5), flush=True)

        copy_bf16 = torch.empty_like(q)
        t_copy = timed(lambda: copy_bf16.copy_(q))
        t_torch_rms = timed(lambda: F.rms_norm(q, (cols,), w, 1e-6))
        t_torch_ln = timed(lambda: F.layer_norm(resid, (cols,), None, None, 1e-6))
        rot_bytes, mod_bytes = 2 * tokens * cols * 2, tokens * cols * (4 + 2)
        rate = lambda nbytes, t: f"{t:.3f} ms {nbytes / t / 1e6:.0f} GB/s"
        for mode, (t_rot, t_mod, block, grid, t_rot32, same32) in times.items():
            print(f"time  {name} {mode:10} (block {block}, grid {grid}): rmsNormRotary {rate(rot_bytes, t_rot)} "
                  f"(u32 indices {rate(rot_bytes, t_rot32)}, {'bit-identical' if same32 else 'DIFFERS'}), "
                  f"modulatedLayerNorm {rate(mod_bytes, t_mod)}", flush=True)
        print(f"time  {name} ceilings: torch copy of q {rate(rot_bytes, t_copy)}; torch F.rms_norm {rate(rot_bytes, t_torch_rms)}; "
              f"torch F.layer_norm f32 {rate(2 * tokens * cols * 4, t_torch_ln)}; warp/block rmsNormRotary "
              f"{times['warp'][0] / times['block'][0]:.2f}x, modulatedLayerNorm {times['warp'][1] / times['block'][1]:.2f}x",
              flush=True)
    print("RESULT " + ("all checks passed" if not bad else "FAILED: " + "; ".join(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
