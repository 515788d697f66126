"""The random full-size umT5-XXL checkpoint of `turbodiffusion forward t5-synthetic`, rebuilt in
numpy, and the reference T5Encoder run on it: a parity check at the real sizes (dim 4096,
64 heads, 24 layers) without the 11 GB download or the 11 GB file.

    # compare our generator with the Swift-written file (any --layers)
    python t5_synthetic.py check FILE.safetensors
    # reference outputs for the token ids in each IN.safetensors (ids i64 [L], mask i64 [L]):
    # writes OUTDIR/IN_f32.npy (fp32 model: the bf16 weights widened) and IN_bf16.npy, [L, 4096], every row
    python t5_synthetic.py run OUTDIR IN.safetensors... [--t5 DIR_WITH_t5.py]

Values (see Sources/Models/UMT5/UMT5RandomWeights.swift): SplitMix64 from `seed`, two
32-bit draws per step (low half first), each draw as a signed int32 times a = std·√3 / 2³¹ in
float32, rounded to bf16; tensors in file order, norm weights all ones (no draws).
Needs numpy and torch; `run` needs about 40 GB of memory.
"""
import argparse
import importlib.util
import json
import os
import struct
import sys
import types

import numpy as np
import torch

C = np.uint64(0x9E3779B97F4A7C15)
DIM, ATTN, FFN, HEADS, LAYERS, VOCAB, BUCKETS = 4096, 4096, 10240, 64, 24, 256384, 32


def entries(layers=LAYERS):
    inv = lambda x: np.float32(1) / np.sqrt(np.float32(x))
    out = [("token_embedding.weight", (VOCAB, DIM), np.float32(1))]
    for i in range(layers):
        k = f"blocks.{i}"
        out += [(f"{k}.norm1.weight", (DIM,), None), (f"{k}.attn.q.weight", (ATTN, DIM), inv(DIM * ATTN)),
                (f"{k}.attn.k.weight", (ATTN, DIM), inv(DIM)), (f"{k}.attn.v.weight", (ATTN, DIM), inv(DIM)),
                (f"{k}.attn.o.weight", (DIM, ATTN), inv(HEADS * ATTN)), (f"{k}.norm2.weight", (DIM,), None),
                (f"{k}.ffn.gate.0.weight", (FFN, DIM), inv(DIM)), (f"{k}.ffn.fc1.weight", (FFN, DIM), inv(DIM)),
                (f"{k}.ffn.fc2.weight", (DIM, FFN), inv(FFN)),
                (f"{k}.pos_embedding.embedding.weight", (BUCKETS, HEADS), inv(2 * BUCKETS * HEADS))]
    out.append(("norm.weight", (DIM,), None))
    return out


def tensors(layers=LAYERS, seed=0, chunk=1 << 24):
    """Yields (name, bf16 torch tensor) in file order."""
    state = np.uint64(seed) + C           # the Swift side adds C once before the first step
    with np.errstate(over="ignore"):
        for name, shape, std in entries(layers):
            count = int(np.prod(shape))
            if std is None:
                yield name, torch.ones(shape, dtype=torch.bfloat16)
                continue
            a = np.float32(std) * np.sqrt(np.float32(3)) / np.float32(2 ** 31)
            parts = []
            for lo in range(0, count, chunk):
                n = min(chunk, count - lo)       # always even here
                steps = np.arange(1, n // 2 + 1, dtype=np.uint64)
                z = state + steps * C
                state = state + np.uint64(n // 2) * C
                z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
                z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
                z ^= z >> np.uint64(31)
                draws = np.empty(n, dtype=np.int32)
                draws[0::2] = (z & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32)
                draws[1::2] = (z >> np.uint64(32)).astype(np.uint32).view(np.int32)
                parts.append(torch.from_numpy(draws.astype(np.float32) * a).to(torch.bfloat16))
            yield name, torch.cat(parts).view(shape)


def read_safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def check(path):
    header, base = read_safetensors_header(path)
    layers = sum(1 for k in header if k.endswith(".norm1.weight"))
    worst = 0
    with open(path, "rb") as f:
        for name, t in tensors(layers):
            b, e = header[name]["data_offsets"]
            f.seek(base + b)
            stored = torch.frombuffer(bytearray(f.read(e - b)), dtype=torch.bfloat16).view(t.shape)
            same = torch.equal(stored.view(torch.int16), t.view(torch.int16))
            worst += 0 if same else 1
            if not same:
                print(f"{name}: values differ")
    print(f"{layers} layers: {'all tensors identical' if worst == 0 else f'{worst} tensors differ'}")
    return worst == 0


def load_t5(t5_dir):
    """wan/modules/t5.py as a module, with its tokenizer import stubbed (not needed here)."""
    if t5_dir is None:
        sys.path.insert(0, os.path.dirname(__file__))
        import wan_reference
        return wan_reference.load("t5")
    pkg = types.ModuleType("t5pkg")
    pkg.__path__ = [t5_dir]
    sys.modules["t5pkg"] = pkg
    tok = types.ModuleType("t5pkg.tokenizers")
    tok.HuggingfaceTokenizer = None
    sys.modules["t5pkg.tokenizers"] = tok
    torch.cuda.current_device = lambda: 0
    spec = importlib.util.spec_from_file_location("t5pkg.t5", os.path.join(t5_dir, "t5.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_ids(path):
    """ids (and mask, when present) from a safetensors file of i64 vectors."""
    header, base = read_safetensors_header(path)
    def tensor(name):
        h = header[name]
        assert h["dtype"] == "I64", f"{path}: '{name}' must be i64"
        b, e = h["data_offsets"]
        with open(path, "rb") as f:
            f.seek(base + b)
            return torch.frombuffer(bytearray(f.read(e - b)), dtype=torch.int64)
    return tensor("ids"), tensor("mask") if "mask" in header else None


def run(outdir, inputs, t5_dir):
    t5 = load_t5(t5_dir)
    torch.set_grad_enabled(False)
    with torch.device("meta"):
        net = t5.T5Encoder(VOCAB, DIM, ATTN, FFN, HEADS, LAYERS, BUCKETS, shared_pos=False).eval()
    net.load_state_dict(dict(tensors()), assign=True)     # the meta parameters become the bf16 tensors
    outs = {}
    for dtype in (torch.bfloat16, torch.float32):
        net = net.to(dtype)
        for path in inputs:
            ids, mask = read_ids(path)
            out = net(ids[None], None if mask is None else mask[None])[0].float().numpy()
            stem = os.path.splitext(os.path.basename(path))[0]
            name = f"{stem}_{'bf16' if dtype == torch.bfloat16 else 'f32'}"
            np.save(os.path.join(outdir, name + ".npy"), out)
            outs[name] = out
    for path in inputs:
        stem = os.path.splitext(os.path.basename(path))[0]
        a, b = outs[stem + "_f32"], outs[stem + "_bf16"]
        print(f"{stem}: bf16 vs f32 relative L2 {np.linalg.norm(b - a) / np.linalg.norm(a):.3e}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("file")
    r = sub.add_parser("run")
    r.add_argument("outdir")
    r.add_argument("inputs", nargs="+")
    r.add_argument("--t5", help="directory holding wan/modules/t5.py (default: the installed wan22 wheel)")
    a = p.parse_args()
    if a.cmd == "check":
        sys.exit(0 if check(a.file) else 1)
    run(a.outdir, a.inputs, a.t5)


if __name__ == "__main__":
    main()
