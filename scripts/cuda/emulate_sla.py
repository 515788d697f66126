#!/usr/bin/env python3
"""Run SLA's CUDA kernels on the CPU, thread by thread: the block map (sparse_attention.cu: key mean
through the cp.async ring and the staged fallback, block pooling, top-k) and the fused linear branch
(sla_linear.cu: state, chunk reduction, apply).

    python3 scripts/cuda/emulate_sla.py [--root ROOT]

The kernel files are compiled as C++ with sla_emulator.cpp, after textual substitutions for what only
a GPU has: dynamic shared memory becomes a host buffer, the mma.m16n8k16 and cp.async helpers call
the emulator's versions (cp.async copies land either at issue or only at the wait that covers them,
so a wrong wait count shows up), the fp32 attention kernel is left out. One std::thread per CUDA
thread; __syncthreads, shuffles, ballots and shared atomics are emulated. The block map must equal
a transcription of the CPU's algorithm bit for bit (means and indices); the linear branch is
compared with a double-precision reference rounded at the reference's points. Needs g++ 12+ (C++20,
_Float16, compiled with -ffp-contract=off as the kernels never contract); no GPU. Catches index,
fragment-layout, masking, tie-order and pipeline mistakes; says nothing about speed.
"""
import argparse, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emulator_build import ROOT, build_and_run, kernels, substitute  # noqa: E402


def block_map_source(kernels):
    s = open(os.path.join(kernels, "sparse_attention.cu")).read()
    start = s.index("// Block-sparse softmax attention (fp32)")
    s = s[:start] + s[s.index("// Token mean of k"):]
    s = substitute(s, re.escape("extern __shared__ float sa_dyn[];"), "float* sa_dyn = (float*)emu_smem;", 1)
    s = substitute(s, re.escape("extern __shared__ __attribute__((aligned(16))) unsigned char sa_ring[];"),
                   "unsigned char* sa_ring = emu_smem;")
    s = substitute(s, r'asm volatile\("\{ \.reg \.u64 t; cvta[^\n]*\n', "ring = 0;\n")
    for name, call in [("sa_cp_async16(u32 dst, const void* src, u32 src_bytes)", "emu_cp_async16(dst, src, src_bytes);"),
                       ("sa_cp_commit()", "emu_cp_commit();"), ("sa_cp_wait()", "emu_cp_wait(N);")]:
        s = substitute(s, re.escape(name) + r" \{\n#if.*?#endif\n\}", name + " { " + call + " }")
    return s


def linear_source(kernels):
    s = open(os.path.join(kernels, "sla_linear.cu")).read()
    s = substitute(s, r"(void sl_mma\(float\* c, const u32\* a, u32 b0, u32 b1\) \{)\n#if.*?#endif\n\}",
                   r"\1 emu_mma<BF16>(c, a, b0, b1); }")
    s = substitute(s, re.escape("extern __shared__ __attribute__((aligned(16))) unsigned char sl_smem[];"),
                   "static unsigned char* const sl_smem = emu_smem;")
    s = substitute(s, r"#if __CUDA_ARCH__ >= 800\n#define SL_ON", "#if 1\n#define SL_ON")
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    k = kernels(args.root)
    build_and_run("sla_emulator.cpp", {"sla_map_extract.inc": block_map_source(k), "sla_linear_extract.inc": linear_source(k)})


main()
