#!/usr/bin/env python3
"""Run elementwise.cu's kernels on the CPU: every dense kernel, launched with DenseSplit's head,
groups and grid, against the generic strided kernel (and, for row broadcasts, the scalar
td_binary_rows the dense one replaced, from bench_elementwise.py), bit for bit.

    python3 scripts/cuda/emulate_elementwise.py

common.cu + elementwise.cu are compiled as C++ with elementwise_emulator.cpp, after replacing the
PTX f16 conversions by _Float16 ones (bf16 takes common.cu's own non-PTX rounding); threads run one
after another. Needs g++ 12+ (C++17, _Float16), built with -ffp-contract=off; no GPU. Catches
head/tail, vector packing, row-wrap, alignment and naming mistakes; says nothing about speed or
about what the GPU compiler does with fp contraction (bench_elementwise.py checks that on a GPU).
"""
import os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from emulator_build import build_and_run, kernels, substitute  # noqa: E402
KERNELS = kernels()


def main():
    from bench_elementwise import OLD_ROWS
    common = open(os.path.join(KERNELS, "common.cu")).read()
    common = substitute(common, r"__device__ __forceinline__ float half_to_float\(u16 h\) \{.*?\n\}",
                        "static float half_to_float(u16 h) { return emu_half_to_float(h); }")
    common = substitute(common, r"__device__ __forceinline__ u16 float_to_half\(float f\) \{.*?\n\}",
                        "static u16 float_to_half(float f) { return emu_float_to_half(f); }")
    source = "\n".join([common, open(os.path.join(KERNELS, "elementwise.cu")).read(), OLD_ROWS])
    build_and_run("elementwise_emulator.cpp", {"elementwise_extract.inc": source}, flags=("-std=c++17", "-O2", "-ffp-contract=off"))


if __name__ == "__main__":
    main()
