#!/usr/bin/env python3
"""Run the tensor-core SageSLA kernel (td_sage_attention_mma_*, Kernels/sage_attention_mma.cu) on the CPU.

    python3 scripts/cuda/emulate_sage_attention.py [ROOT]

Extracts the kernel's device code (the e4m3 helpers, the v scale kernels, td_sage_v_quantize_t and the
"SG device code" section) and compiles it with sage_attention_emulator.cpp, which runs one std::thread per CUDA thread
with real barriers and emulates warp shuffles, cp.async (copies landing early or only at their
wait), ldmatrix.x4, mma (m16n8k32 s8 and m16n8k16 f16, fragment layouts from the PTX ISA) and
ex2.approx (the exact value moved by up to ±12 ulp). Compares with a C++ port of
CPUBackend.quantizedBlockSparseAttention. Needs g++ 12+ (C++20); no GPU.
"""
import os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulator_build import ROOT, build_and_run, kernels as kernels_of  # noqa: E402


def between(src, start, end):
    i = src.index(start)
    return src[i:src.index(end, i)]


def main():
    kernels = kernels_of(sys.argv[1] if len(sys.argv) > 1 else ROOT)
    src = open(os.path.join(kernels, "sage_attention.cu")).read()
    mma = open(os.path.join(kernels, "sage_attention_mma.cu")).read()
    defines = "\n".join(re.findall(r"^#define (?:SG_ROWS|SG_THREADS|SG_TIE_ULPS|SG_DOT_BIAS|SG_DOT_BIAS_VALUE) \S+$", mma, re.M))
    sa_row = re.search(r"__device__ __forceinline__ i64 sa_row\(.*?\n}\n", src, re.S).group(0)
    fp8 = between(src, "// Float → e4m3fn bits", "__device__ __forceinline__ int sa_dp4a")
    vscale = between(src, "// Per-channel max |v| over a chunk", "// Tokens per tile of td_sage_v_quantize_t")
    vt = src[src.index("// Tokens per tile of td_sage_v_quantize_t"):]   # to the end of the file
    body = between(mma, "// ---- SG device code", "// ---- SG entry points")
    build_and_run("sage_attention_emulator.cpp", {"sage_extract.inc": "\n".join([defines, sa_row, fp8, vscale, vt, body])},
                  flags=("-std=c++20", "-O2", "-ffp-contract=off"))


main()
