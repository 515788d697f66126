#!/usr/bin/env python3
"""Run the fused flash-attention kernel (Kernels/attention.cu) on the CPU, thread by thread.

    python3 scripts/cuda/emulate_flash_attention.py [ROOT]

Extracts the kernel's device code (pack_pair … flash_attention) and compiles it with
flash_attention_emulator.cpp, which emulates __syncthreads, warp shuffles, mma.m16n8k16 and
cp.async (copies landing early and late) with one std::thread per CUDA thread, then compares
odd-sized bf16/f16 cases with a double-precision reference. Needs g++ 12+ (C++20, _Float16);
no GPU. Catches index, fragment-layout, masking and pipeline (wait/barrier) mistakes; says
nothing about speed, register pressure or the real hardware's rounding of exp2.
"""
import os, re, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(HERE))


def main():
    src = open(os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels", "attention.cu")).read()
    defines = "\n".join(re.findall(r"^#define FA_(?:ROWS|KEYS|THREADS) \d+$", src, re.M))
    body = src[src.index("// Two floats rounded"):src.index("// Entry points")]
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "flash_extract.inc"), "w") as f:
            f.write(defines + "\n" + body)
        exe = os.path.join(tmp, "emulate")
        subprocess.check_call(["g++", "-std=c++20", "-O2", "-pthread", "-Wno-unknown-pragmas", f"-I{tmp}", "-o", exe,
                               os.path.join(HERE, "flash_attention_emulator.cpp")])
        sys.exit(subprocess.call([exe]))


main()
