#!/usr/bin/env python3
"""Compile every CUDA kernel family (common.cu + Kernels/<family>.cu) with NVRTC, as the
engine does at run time, and report registers, spills and shared memory from ptxas.

    python3 scripts/cuda/check_kernels.py [--arch sm_90a] [--sass] [FAMILY ...]

--sass also counts each kernel's SASS instructions (cuobjdump, pip install nvidia-cuda-cuobjdump):
a kernel of many thousands of unrolled instructions stalls on instruction fetch.

Needs NVIDIA's wheels (pip install nvidia-cuda-nvrtc nvidia-cuda-nvcc) or a CUDA toolkit;
no GPU. Exits non-zero when a family does not compile or a kernel spills more than 128 bytes.
"""
import argparse, ctypes, glob, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "Sources", "BackendCUDA", "Kernels")
# Families compiled after another family's file (its primitives), as KernelFamily does.
# "file:primitives" takes the file only up to its "// ---- end primitives" line (KernelFamily's
# `primitives(of:)`).
PRELUDES = {"hopper_attention": ["flash_attention"],
            "quantized_matmul": ["flash_attention:primitives", "hopper_attention:primitives"],
            "quantized_matmul_wgmma": ["flash_attention:primitives", "hopper_attention:primitives", "quantized_matmul"], "implicit_conv": ["flash_attention:primitives"],
            "hopper_conv": ["flash_attention:primitives", "hopper_attention:primitives"], "modulation": ["norms"],
            "sage_attention_mma": ["sage_attention:primitives"]}


def read_part(kernels, part):
    name, _, section = part.partition(":")
    text = open(os.path.join(kernels, name + ".cu")).read()
    return text[:text.index("// ---- end primitives")] if section == "primitives" else text


def find(pattern_list):
    roots = [os.environ.get("CUDA_HOME", "/usr/local/cuda")] + sys.path
    for root in roots:
        for pattern in pattern_list:
            hits = sorted(glob.glob(os.path.join(root, pattern)), reverse=True)
            if hits:
                return hits[0]
    return None


def nvrtc():
    path = find(["nvidia/cu13/lib/libnvrtc.so.*", "nvidia/cuda_nvrtc/lib/libnvrtc.so.*", "lib64/libnvrtc.so.*"])
    if not path:
        sys.exit("libnvrtc not found: pip install nvidia-cuda-nvrtc")
    return ctypes.CDLL(path)


def compile_ptx(lib, name, source, arch):
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), f"{name}.cu".encode(), 0, None, None)
    assert rc == 0, rc
    opts = [f"--gpu-architecture={arch.replace('sm_', 'compute_')}", "--std=c++17", "-default-device"]
    arr = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
    rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    if rc != 0:
        return None, log.value.decode(errors="replace")
    lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetPTX(prog, ptx)
    return ptx.value.decode(), log.value.decode(errors="replace")


def print_sass_counts(cuobjdump, cubin):
    """Instructions per function (kernels and out-of-line device functions) in the cubin."""
    text = subprocess.run([cuobjdump, "-sass", cubin], capture_output=True, text=True).stdout
    counts, name = {}, None
    for line in text.splitlines():
        m = re.search(r"Function : (\S+)", line)
        if m:
            name = m.group(1)
            counts[name] = 0
        elif name and re.match(r"\s*/\*[0-9a-f]{4,}\*/", line):
            counts[name] += 1
    for name, n in counts.items():
        print(f"   {name}: {n} SASS instructions ({n * 16 // 1024} KiB)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="sm_90a")
    ap.add_argument("--sass", action="store_true", help="count SASS instructions per kernel (cuobjdump)")
    ap.add_argument("families", nargs="*")
    args = ap.parse_args()
    lib = nvrtc()
    ptxas = find(["nvidia/cu13/bin/ptxas", "nvidia/cuda_nvcc/bin/ptxas", "bin/ptxas"])
    cuobjdump = find(["nvidia/cu13/bin/cuobjdump", "nvidia/cuda_cuobjdump/bin/cuobjdump", "bin/cuobjdump"]) if args.sass else None
    if args.sass and not cuobjdump:
        sys.exit("cuobjdump not found: pip install nvidia-cuda-cuobjdump")
    common = open(os.path.join(KERNELS, "common.cu")).read()
    families = args.families or sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(KERNELS, "*.cu"))
                                       if not p.endswith("common.cu"))
    failed = False
    for fam in families:
        parts = PRELUDES.get(fam, []) + [fam]
        src = common + "".join("\n" + read_part(KERNELS, p) for p in parts)
        ptx, log = compile_ptx(lib, fam, src, args.arch)
        if ptx is None:
            print(f"== {fam}: NVRTC FAILED\n{log}")
            failed = True
            continue
        print(f"== {fam}: compiled for {args.arch}" + (f"\n{log}" if log.strip() else ""))
        if not ptxas:
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
            f.write(ptx)
        cubin = f.name[:-4] + ".cubin"
        out = subprocess.run([ptxas, "-v", f"-arch={args.arch}", f.name, "-o", cubin if cuobjdump else os.devnull],
                             capture_output=True, text=True)
        os.unlink(f.name)
        if cuobjdump and out.returncode == 0:
            print_sass_counts(cuobjdump, cubin)
        if cuobjdump and os.path.exists(cubin):
            os.unlink(cubin)
        text = out.stdout + out.stderr
        kernel = None
        for line in text.splitlines():
            m = re.search(r"Compiling entry function '(\w+)'", line)
            if m:
                kernel = m.group(1)
            m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
            if m and kernel and (int(m.group(2)) or int(m.group(3))):
                # Small spills to L1 are accepted where measured faster (flash_attention.cu says why).
                big = max(int(m.group(2)), int(m.group(3))) > 128
                print(f"   {'SPILL' if big else 'spill (accepted, ≤ 128 B)'} {kernel}: {line.strip()}")
                failed = failed or big
            m = re.search(r"Used (\d+) registers.*", line)
            if m and kernel:
                print(f"   {kernel}: {m.group(0).strip()}")
        if out.returncode != 0:
            print(text)
            failed = True
    sys.exit(1 if failed else 0)


main()
