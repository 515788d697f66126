#!/usr/bin/env python3
"""Run norms.cu's RMSNorm and rotary kernels on the CPU, thread by thread, and check that the fused
td_rms_norm_rotary (and td_rms_norm_rotary_u32, its candidate with 32-bit in-row indices) equals
td_rms_norm followed by td_rotary bit for bit.

    python3 scripts/cuda/emulate_norms.py [--root ROOT]

The whole of norms.cu, with common.cu's strided indexing and block reductions, is compiled as C++
with norms_emulator.cpp: dynamic shared memory becomes a host buffer filled with NaNs before each
block, __syncthreads and warp shuffles are emulated with one std::thread per CUDA thread, and
the launches copy CUDABackend's (rowNormLaunch's warp or block per row, block size and `vec`, td_rotary's 2-D blocks;
grids are made small so the grid-stride loops take several rows per block). Cases: f32, bf16 and
f16 x; DiT width 1536 as 12 × 128, 2 × 64, odd D/2, a batch; dense, transposed and
odd-offset narrowed views; with and without weight; f32 and f16 tables. Compiled with
-ffp-contract=off: the kernels contract nothing the GPU would not (the RMS sum is an explicit
__fmaf_rn), so the emulated fp32 arithmetic is the device's. Needs g++ 12+ (C++20, _Float16);
no GPU. Catches index, pairing, cache and rounding-point mistakes; says nothing about speed.
"""
import argparse, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulator_build import ROOT, build_and_run, kernels, substitute  # noqa: E402


def source(kernels):
    common = open(os.path.join(kernels, "common.cu")).read()
    common = common[common.index("// A strided view"):]
    norms = open(os.path.join(kernels, "norms.cu")).read()
    norms = substitute(norms, re.escape("extern __shared__ __align__(16) float row_cache[];"),
                       "float* row_cache = (float*)emu_smem;", 4)
    return common + "\n" + norms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    build_and_run("norms_emulator.cpp", {"norms_extract.inc": source(kernels(args.root))})


main()
