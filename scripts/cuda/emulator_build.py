"""What the emulate_*.py drivers share: the checked substitution they adapt kernel source with, and building
an emulator (a .cpp of scripts/cuda that includes the kernel source extracts) with g++, running it and exiting
with its status. The extracts are written to a temporary folder on the include path, beside scripts/cuda
(emulator_runtime.h)."""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def substitute(src, old, new, count=1):
    """Replaces `old` (a regex) by `new`, insisting on `count` matches so a kernel edit cannot slip by."""
    out, n = re.subn(old, new, src, flags=re.S)
    if n != count:
        sys.exit(f"{os.path.basename(sys.argv[0])}: expected {count} match(es) of {old!r}, found {n}: update the substitutions")
    return out


def kernels(root=ROOT):
    return os.path.join(root, "Sources", "BackendCUDA", "Kernels")


def build_and_run(cpp, extracts, flags=("-std=c++20", "-O1", "-ffp-contract=off"), args=()):
    """Writes extracts {file name: text}, compiles HERE/cpp with `flags` (plus threads and the include
    paths), runs it with `args` and exits with its status."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in extracts.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        exe = os.path.join(tmp, "emulate")
        subprocess.check_call(["g++", *flags, "-pthread", "-Wno-unknown-pragmas", f"-I{tmp}", f"-I{HERE}", "-o", exe,
                               os.path.join(HERE, cpp)])
        sys.exit(subprocess.call([exe, *args]))
