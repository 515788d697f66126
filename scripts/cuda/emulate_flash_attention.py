#!/usr/bin/env python3
"""Run the fused flash-attention kernels on the CPU, thread by thread.

    python3 scripts/cuda/emulate_flash_attention.py [--root ROOT] [--which v1|fa2|all] [-D NAME=VALUE ...]

Extracts the device code of attention.cu's td_flash_attn (pack_pair … flash_attention) and of
flash_attention.cu's td_fa2 kernels (everything between "---- end primitives" and the entry
points, plus the #defines above; the emulator supplies the primitives: cp.async, ldmatrix,
mma, ex2) and compiles them with flash_attention_emulator.cpp, which emulates __syncthreads,
warp shuffles and votes, ldmatrix (.x4, .trans), mma.m16n8k16 and cp.async (copies landing early
and late) with one std::thread per CUDA thread, then compares odd-sized bf16/f16 cases (dense
and block-sparse) with a double-precision reference. -D passes a macro to the kernel source
(e.g. -D FA2_SUB_WIDE=32). Needs g++ 12+ (C++20, _Float16); no GPU. Catches index,
fragment-layout, masking and pipeline (wait/barrier) mistakes; says nothing about speed,
register pressure or the real hardware's rounding of exp2.
"""
import argparse, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulator_build import ROOT, build_and_run, kernels as kernels_of  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--which", default="all", choices=["v1", "fa2", "all"])
    ap.add_argument("-D", dest="defines", action="append", default=[])
    args = ap.parse_args()
    kernels = kernels_of(args.root)
    src = open(os.path.join(kernels, "attention.cu")).read()
    defines = "\n".join(re.findall(r"^#define FA_(?:ROWS|KEYS|THREADS) \d+$", src, re.M))
    v1 = defines + "\n" + src[src.index("// Two floats rounded"):src.index("// Entry points")]
    fa2 = open(os.path.join(kernels, "flash_attention.cu")).read()
    head = fa2[:fa2.index("extern __shared__")]
    fa2 = head + fa2[fa2.index("// ---- end primitives"):fa2.index("// Entry points")]
    build_and_run("flash_attention_emulator.cpp", {"flash_extract.inc": v1, "fa2_extract.inc": fa2},
                  flags=("-std=c++20", "-O2", *(f"-D{d}" for d in args.defines)), args=(args.which,))


main()
