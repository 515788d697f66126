#!/usr/bin/env python3
"""Run the W8A8 activation quantisers of quantized_matmul.cu on the CPU, thread by thread, and check that
td_w8a8_quantize_block writes what td_w8a8_quantize writes and, with its `tiled` flag, exactly the tiles
td_w8a8_tile makes of that (the operand layout of td_w8a8_gemm_wgmma192).

    python3 scripts/cuda/emulate_w8a8_quantize.py [--root ROOT]

The kernels' source (quantized_matmul.cu from QM_BLOCK to td_w8a8_pad_weight, td_w8a8_tile from
quantized_matmul_wgmma.cu, common.cu's reductions) is compiled as C++ with w8a8_quantize_emulator.cpp:
__syncthreads and warp shuffles are emulated with one std::thread per CUDA thread. Cases: f32, bf16 and f16
x (the 16-byte and the scalar paths), M and K off every multiple (K not a multiple of 16 or 8), a block row
of zeros (scale 0). Needs g++ 12+ (C++20, _Float16); no GPU. Catches index, swizzle and zero-fill
mistakes; says nothing about speed.
"""
import argparse, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulator_build import ROOT, build_and_run, kernels  # noqa: E402


def between(src, start, end, what):
    """The text of `src` from the line holding `start` up to the line holding `end`."""
    i, j = src.find(start), src.find(end)
    if i < 0 or j < 0 or j < i:
        sys.exit(f"emulate_w8a8_quantize.py: could not find {what} ({start!r} … {end!r}): update the extraction")
    return src[src.rfind("\n", 0, i) + 1:src.rfind("\n", 0, j) + 1]


def source(kernels):
    read = lambda f: open(os.path.join(kernels, f)).read()
    common = read("common.cu")
    common = common[common.index("// A strided view"):]
    quantize = between(read("quantized_matmul.cu"), "#define QM_BLOCK", "extern \"C\" __global__ void td_w8a8_pad_weight",
                       "the quantisers")
    tile = between(read("quantized_matmul_wgmma.cu"), "extern \"C\" __global__ void td_w8a8_tile",
                   "__device__ __forceinline__ void qw_expect_tx", "td_w8a8_tile")
    return common + "\n" + quantize + "\n" + re.sub(r"^//.*\n", "", tile, flags=re.M)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    build_and_run("w8a8_quantize_emulator.cpp", {"w8a8_extract.inc": source(kernels(args.root))})


main()
