#!/usr/bin/env python3
"""Writes the checkpoint fixtures used by Tests/CheckpointsTests (and Tests/CLITests).

Run with the pinned reference environment (see requirements.txt):

    /opt/refvenv/bin/python scripts/reference/make_checkpoint_fixtures.py

Everything is seeded, so re-running produces identical tensors. torch.save output also
contains a random `.data/serialization_id`, so the .pth bytes may differ between runs; the
tensors and expected.json do not.

Safety: malicious.pth is assembled from raw bytes here and is NEVER loaded in Python.
"""
import io
import json
import math
import os
import shutil
import struct
import sys
import zipfile
import zlib
from collections import OrderedDict

import torch
import torch.nn as nn
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "CheckpointsTests", "Fixtures")

DTYPE_NAMES = {
    torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16",
    torch.float8_e4m3fn: "fp8e4m3", torch.int8: "i8", torch.uint8: "u8",
    torch.int32: "i32", torch.int64: "i64",
}

expected = OrderedDict()


def json_float(x):
    # Python's json writes NaN/Infinity tokens; the Swift test parser accepts them.
    return float(x)


def describe(name, t, with_layout):
    d = OrderedDict(name=name, dtype=DTYPE_NAMES[t.dtype], shape=list(t.shape))
    if with_layout:
        d["strides"] = list(t.stride())
        d["storage_offset"] = t.storage_offset()
    if t.dtype.is_floating_point:
        d["values"] = [json_float(v) for v in t.detach().float().reshape(-1).tolist()]
    else:
        d["values"] = [int(v) for v in t.detach().reshape(-1).tolist()]
    return d


def record(fixture, named, with_layout=False, **extra):
    entry = OrderedDict(extra)
    entry["tensors"] = [describe(n, t, with_layout) for n, t in named]
    expected[fixture] = entry


def path(name):
    return os.path.join(OUT, name)


# ---------------------------------------------------------------- zip writing by hand

def write_zip(dest, entries, zip64=False, align=64, method_for=None):
    """Writes a zip of STORED entries (name, bytes). Each entry's data is aligned to `align`
    bytes with an 'FB' padding extra field, like torch.save. With zip64=True every size and
    offset goes through zip64 extra fields and an EOCD64 record + locator is written, as a
    >4 GB torch.save file would have."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode("utf-8")
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        extra = b""
        if zip64:
            extra += struct.pack("<HHQQ", 0x0001, 16, len(data), len(data))
        base = offset + 30 + len(nb) + len(extra)
        pad = (-(base + 4)) % align if align > 1 else 0
        if align > 1:
            extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        size32 = 0xFFFFFFFF if zip64 else len(data)
        version = 45 if zip64 else 20
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, version, 0, 0, 0, 0x21, crc,
                           size32, size32, len(nb), len(extra))
        out += nb + extra + data
        cextra = struct.pack("<HHQQQ", 0x0001, 24, len(data), len(data), offset) if zip64 else b""
        off32 = 0xFFFFFFFF if zip64 else offset
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, 0, 0, 0, 0x21,
                               crc, size32, size32, len(nb), len(cextra), 0, 0, 0, 0, off32)
        central += nb + cextra
    cd_offset = len(out)
    out += central
    n = len(entries)
    if zip64:
        eocd64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
    with open(dest, "wb") as f:
        f.write(out)
    # Independent check: Python's zipfile must read back every entry unchanged.
    with zipfile.ZipFile(dest) as z:
        for name, data in entries:
            assert z.read(name) == data, name


def torch_entries(obj):
    """torch.save into memory; returns the archive's (name, bytes) list in file order."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def reprefix(entries, new_prefix):
    out = []
    for name, data in entries:
        assert name.startswith("archive/"), name
        out.append((new_prefix + name[len("archive/"):], data))
    return out


# ---------------------------------------------------------------- tensors

def dtype_tensors(gen):
    f32 = torch.randn(2, 3, generator=gen)
    f32[0, 0] = float("inf")
    f32[0, 1] = -0.0
    f32[1, 2] = float("nan")
    return [
        ("t_f32", f32),
        ("t_bf16", torch.randn(3, 2, generator=gen).to(torch.bfloat16)),
        ("t_f16", torch.randn(2, 2, 2, generator=gen).to(torch.float16)),
        ("t_fp8", (torch.randn(5, generator=gen) * 8).to(torch.float8_e4m3fn)),
        ("t_i8", torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8)),
        ("t_u8", torch.tensor([[0, 1, 128], [200, 254, 255]], dtype=torch.uint8)),
        ("t_i32", torch.tensor([-2147483648, -7, 0, 9, 2147483647], dtype=torch.int32)),
        ("t_i64", torch.tensor([-(2 ** 63), -(2 ** 40) - 3, 0, 2 ** 53 + 1, 2 ** 63 - 1], dtype=torch.int64)),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
    ]


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    gen = torch.Generator().manual_seed(1234)

    # 1. Every dtype, as .pth and .safetensors.
    named = dtype_tensors(gen)
    torch.save(OrderedDict(named), path("all_dtypes.pth"))
    record("all_dtypes.pth", named, with_layout=True, format="pytorch")
    save_file(OrderedDict((n, t.contiguous()) for n, t in named), path("all_dtypes.safetensors"),
              metadata={"format": "pt", "producer": "make_checkpoint_fixtures"})
    record("all_dtypes.safetensors", safetensors_order(path("all_dtypes.safetensors"), named),
           format="safetensors")

    # 2. Views: shared storage at two offsets, transposed, strided slice, stride-0 expand.
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3.0
    mat = torch.randn(3, 5, generator=gen)
    wide = torch.randn(4, 6, generator=gen)
    views = [
        ("shared_a", base[2:10].view(2, 4)),
        ("shared_b", base[12:20]),
        ("shared_full", base),
        ("transposed", mat.t()),
        ("sliced", wide[:, ::2]),
        ("expanded", torch.arange(3, dtype=torch.int32).expand(2, 3)),
    ]
    torch.save(OrderedDict(views), path("views.pth"))
    record("views.pth", views, with_layout=True, format="pytorch")

    # 3. Storages tagged cuda:0 (torch asks location_tag for the tag; we cannot use CUDA here).
    cuda_named = [("w", torch.randn(2, 3, generator=gen)),
                  ("b", torch.randn(3, generator=gen).to(torch.bfloat16)),
                  ("q", (torch.randn(4, generator=gen) * 4).to(torch.float8_e4m3fn))]
    original_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(OrderedDict(cuda_named), path("cuda_tagged.pth"))
    finally:
        torch.serialization.location_tag = original_tag
    with zipfile.ZipFile(path("cuda_tagged.pth")) as z:
        pkl = z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])
        assert b"cuda:0" in pkl and b"X\x03\x00\x00\x00cpu" not in pkl
    record("cuda_tagged.pth", cuda_named, with_layout=True, format="pytorch")

    # 4. A module state dict (has _metadata, applied with BUILD) plus nn.Parameter entries.
    torch.manual_seed(5)
    module = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2))
    sd = module.state_dict()
    sd["param"] = nn.Parameter(torch.randn(2, 2, generator=gen))
    sd["frozen"] = nn.Parameter(torch.randn(3, generator=gen), requires_grad=False)
    assert hasattr(sd, "_metadata")
    torch.save(sd, path("module_state.pth"))
    record("module_state.pth", list(sd.items()), with_layout=True, format="pytorch")

    # 5. Unusual archive prefix (spaces, dots and a slash) and a zip64 archive.
    small = [("alpha", torch.randn(4, generator=gen)), ("beta", torch.arange(6, dtype=torch.int64).view(2, 3))]
    entries = torch_entries(OrderedDict(small))
    write_zip(path("unusual_prefix.pth"), reprefix(entries, "my model.v2/inner/"))
    record("unusual_prefix.pth", small, with_layout=True, format="pytorch")
    write_zip(path("zip64.pth"), reprefix(entries, "big/"), zip64=True)
    record("zip64.pth", small, with_layout=True, format="pytorch")

    # 6. Nested dict: {'model': {...}, 'ema': {'inner': {...}}, 'step': 7, 'name': 'run'}.
    inner = OrderedDict([("layer.weight", torch.randn(2, 2, generator=gen)), ("layer.bias", torch.randn(2, generator=gen))])
    ema = OrderedDict([("inner", OrderedDict([("w", torch.randn(3, generator=gen).half())]))])
    nested = {"model": inner, "ema": ema, "step": 7, "name": "run"}
    torch.save(nested, path("nested.pth"))
    flat = [("model." + k, v) for k, v in inner.items()] + [("ema.inner.w", ema["inner"]["w"])]
    record("nested.pth", flat, with_layout=True, format="pytorch")

    # 7. Sharded safetensors with an index.
    os.makedirs(path("sharded"))
    shard1 = OrderedDict([("a.weight", torch.randn(2, 3, generator=gen)), ("a.bias", torch.randn(3, generator=gen).to(torch.bfloat16))])
    shard2 = OrderedDict([("b.weight", torch.arange(4, dtype=torch.int32)), ("c.scale", torch.randn(1, generator=gen))])
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    save_file(shard1, path("sharded/" + names[0]))
    save_file(shard2, path("sharded/" + names[1]))
    weight_map = OrderedDict()
    for n in shard1:
        weight_map[n] = names[0]
    for n in shard2:
        weight_map[n] = names[1]
    total = sum(t.numel() * t.element_size() for t in list(shard1.values()) + list(shard2.values()))
    with open(path("sharded/model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    sharded = safetensors_order(path("sharded/" + names[0]), list(shard1.items())) + \
        safetensors_order(path("sharded/" + names[1]), list(shard2.items()))
    record("sharded/model.safetensors.index.json", sharded, format="sharded")

    # 8. Model-kind key sets (tiny shapes, names per DESIGN.md §3–§5).
    kind_fixtures(gen)

    # 9. Files that must be refused.
    write_malicious(path("malicious.pth"))
    write_malicious_stack_global(path("malicious_stack_global.pth"))
    cut(path("all_dtypes.pth"), path("truncated.pth"), 0.6)  # loses the central directory
    cut(path("all_dtypes.safetensors"), path("truncated.safetensors"), -40)  # header intact, data short
    write_bad_offsets(path("bad_offsets.safetensors"))
    write_compressed(path("compressed.pth"), entries)
    torch.save(OrderedDict([("d", torch.randn(2, generator=gen).double())]), path("unsupported_dtype.pth"))
    save_file({"d": torch.randn(2, generator=gen).double()}, path("unsupported_dtype.safetensors"))
    torch.save(OrderedDict(small), path("legacy.pt"), _use_new_zipfile_serialization=False)
    with open(path("not_a_checkpoint.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(17))
    with open(path("notes.txt"), "w") as f:
        f.write("These are not weights.\n")
    open(path("empty.bin"), "wb").close()

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    total = 0
    for dirpath, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in files)
    print(f"wrote {len(expected)} described fixtures, {total} bytes in {OUT}")


def safetensors_order(file, named):
    """The tensors in the order of the file's JSON header (what the Swift reader returns)."""
    with open(file, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n), object_pairs_hook=OrderedDict)
    lookup = dict(named)
    return [(k, lookup[k]) for k in header if k != "__metadata__"]


def kind_fixtures(gen):
    def r(*shape, dtype=torch.float32):
        return (torch.randn(*shape, generator=gen) * 0.1).to(dtype)

    dim, ffn, layers, text = 8, 12, 2, 6
    # Official Wan DiT: 5-D patch embedding [dim, 16, 1, 2, 2].
    wan = OrderedDict()
    wan["patch_embedding.weight"] = r(dim, 16, 1, 2, 2, dtype=torch.bfloat16)
    wan["patch_embedding.bias"] = r(dim)
    wan["text_embedding.0.weight"] = r(dim, text)
    wan["time_embedding.0.weight"] = r(dim, 256)
    wan["time_projection.1.weight"] = r(dim * 6, dim)
    for i in range(layers):
        p = f"blocks.{i}."
        wan[p + "modulation"] = r(1, 6, dim)
        for m in ("self_attn", "cross_attn"):
            for l in "qkvo":
                wan[p + f"{m}.{l}.weight"] = r(dim, dim, dtype=torch.bfloat16)
        wan[p + "ffn.0.weight"] = r(ffn, dim, dtype=torch.bfloat16)
        wan[p + "ffn.2.weight"] = r(dim, ffn, dtype=torch.bfloat16)
    wan["head.modulation"] = r(1, 2, dim)
    wan["head.head.weight"] = r(64, dim)
    save_file(wan, path("kind_wan_dit.safetensors"))

    # TurboDiffusion layout, int8 block-quantized, I2V (36 input channels), keys under 'net.'.
    turbo = OrderedDict()
    turbo["net.patch_embedding.weight"] = r(dim, 36 * 4, dtype=torch.bfloat16)
    turbo["net.patch_embedding.bias"] = r(dim)
    turbo["net.text_embedding.0.weight"] = r(dim, text)
    for i in range(layers):
        p = f"net.blocks.{i}."
        for l in "qkvo":
            turbo[p + f"self_attn.{l}.int8_weight"] = torch.randint(-128, 128, (dim, dim), dtype=torch.int8, generator=gen)
            turbo[p + f"self_attn.{l}.scale"] = r(1, 1)
        turbo[p + "self_attn.attn_op.local_attn.proj_l.weight"] = r(128, 128, dtype=torch.bfloat16)
        turbo[p + "self_attn.attn_op.local_attn.proj_l.bias"] = r(128)
        turbo[p + "ffn.0.int8_weight"] = torch.randint(-128, 128, (ffn, dim), dtype=torch.int8, generator=gen)
        turbo[p + "ffn.0.scale"] = r(1, 1)
    turbo["net.head.head.weight"] = r(64, dim)
    torch.save(turbo, path("kind_turbo_dit_int8.pth"))

    # umT5 encoder.
    t5 = OrderedDict()
    t5["token_embedding.weight"] = r(20, dim, dtype=torch.bfloat16)
    for i in range(layers):
        p = f"blocks.{i}."
        t5[p + "norm1.weight"] = r(dim)
        for l in "qkvo":
            t5[p + f"attn.{l}.weight"] = r(dim, dim, dtype=torch.bfloat16)
        t5[p + "norm2.weight"] = r(dim)
        t5[p + "ffn.gate.0.weight"] = r(ffn, dim, dtype=torch.bfloat16)
        t5[p + "ffn.fc1.weight"] = r(ffn, dim, dtype=torch.bfloat16)
        t5[p + "ffn.fc2.weight"] = r(dim, ffn, dtype=torch.bfloat16)
        t5[p + "pos_embedding.embedding.weight"] = r(32, 4)
    t5["norm.weight"] = r(dim)
    torch.save(t5, path("kind_umt5.pth"))

    # Wan2.1 VAE (a subset of the real keys, real nesting, tiny channels: dim 4, z 3).
    vae = OrderedDict()
    vae["encoder.conv1.weight"] = r(4, 3, 3, 3, 3)
    vae["encoder.conv1.bias"] = r(4)
    vae["encoder.downsamples.0.residual.0.gamma"] = r(4, 1, 1, 1)
    vae["encoder.downsamples.0.residual.2.weight"] = r(4, 4, 3, 3, 3)
    vae["encoder.middle.1.to_qkv.weight"] = r(12, 4, 1, 1)
    vae["encoder.head.2.weight"] = r(6, 4, 3, 3, 3)
    vae["conv1.weight"] = r(6, 6, 1, 1, 1)
    vae["conv2.weight"] = r(3, 3, 1, 1, 1)
    vae["decoder.conv1.weight"] = r(4, 3, 3, 3, 3)
    vae["decoder.upsamples.0.residual.2.weight"] = r(4, 4, 3, 3, 3)
    vae["decoder.head.2.weight"] = r(3, 4, 3, 3, 3)
    torch.save(vae, path("kind_wan_vae.pth"))


def write_malicious(dest):
    """A torch-style zip whose pickle builds OrderedDict and then asks for posix.system
    (what pickling os.system writes on Linux) and REDUCEs it with a shell command."""
    cmd = b"touch /tmp/turbodiffusion-pwned"
    pkl = (b"\x80\x02" + b"ccollections\nOrderedDict\nq\x00)Rq\x01("
           + b"X\x06\x00\x00\x00weightq\x02"
           + b"cposix\nsystem\nq\x03"
           + b"X" + struct.pack("<I", len(cmd)) + cmd + b"\x85Rq\x04"
           + b"u.")
    entries = [("malicious/data.pkl", pkl), ("malicious/byteorder", b"little"),
               ("malicious/data/0", bytes(16)), ("malicious/version", b"3\n")]
    write_zip(dest, entries)


def write_malicious_stack_global(dest):
    """Same idea with protocol 4 opcodes: STACK_GLOBAL('builtins', 'eval')."""
    code = b"__import__('os').system('true')"
    pkl = (b"\x80\x04\x95" + struct.pack("<Q", 0)  # FRAME (length is only a hint)
           + b"\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94"
           + b"\x8c" + bytes([len(code)]) + code + b"\x94\x85\x94R\x94.")
    write_zip(dest, [("x/data.pkl", pkl), ("x/byteorder", b"little")])


def cut(src, dest, keep):
    """Keeps a fraction (float) of the file, or drops -keep bytes from its end (negative int)."""
    with open(src, "rb") as f:
        data = f.read()
    end = int(len(data) * keep) if isinstance(keep, float) else len(data) + keep
    with open(dest, "wb") as f:
        f.write(data[:end])


def write_bad_offsets(dest):
    header = {"ok": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "far": {"dtype": "F32", "shape": [4], "data_offsets": [1000000000000, 1000000000016]}}
    h = json.dumps(header).encode()
    h += b" " * ((-len(h)) % 8)
    with open(dest, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + struct.pack("<2f", 1.0, 2.0))


def write_compressed(dest, entries):
    with zipfile.ZipFile(dest, "w") as z:
        for name, data in entries:
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name.endswith("data.pkl") else zipfile.ZIP_STORED)


if __name__ == "__main__":
    sys.exit(main())
