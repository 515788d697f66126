"""Golden fixtures for the umT5 text encoder: tiny random T5Encoders run through the reference
wan/modules/t5.py (pinned wan22 wheel, loaded by wan_reference.py) in fp32 and in bf16.

Run with the pinned environment (requirements.txt):  python scripts/reference/make_t5_fixtures.py
Writes Tests/ModelsTests/Fixtures/:
  t5_<case>.pth                  weights as the real models_t5_umt5-xxl-enc-bf16.pth stores them:
                                 torch.save(T5Encoder.state_dict()) of a bf16 model
  t5_<case>_<input>_io.safetensors
                                 ids i64 [L], mask [L] (when the input has one; its dtype varies),
                                 out_f32 [L, dim]: the fp32 model (the bf16 weights widened),
                                 out_bf16 [L, dim]: the bf16 model, values stored as f32;
                                 every row of T5Encoder.forward, padded positions included
  t5_buckets.safetensors         rel i64 [1201] = -600..600 and the reference bucket of each
                                 (bidirectional, max_dist 128) for 32 and 16 buckets
"""
import os

import torch
from safetensors.torch import save_file

import wan_reference

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ModelsTests", "Fixtures")

# name, seed, T5Encoder arguments, inputs: (input name, length, mask kind, mask dtype)
#   mask kind: None (no mask passed), ("prefix", n) real tokens first, ("holes", n) n scattered zeros
CASES = [
    ("tiny", 1, dict(vocab=300, dim=64, dim_attn=64, dim_ffn=160, num_heads=4, num_layers=2, num_buckets=32),
     [("padded", 140, ("prefix", 97), torch.int64), ("unpadded", 23, None, None)]),
    ("wide", 2, dict(vocab=257, dim=96, dim_attn=128, dim_ffn=136, num_heads=4, num_layers=3, num_buckets=16),
     [("holes", 40, ("holes", 9), torch.uint8), ("padded", 30, ("prefix", 11), torch.int32)]),
]


def randomize(net, cfg):
    """Every parameter random at a scale that keeps activations O(1) and logits O(few)."""
    dim, dim_attn, ffn = cfg["dim"], cfg["dim_attn"], cfg["dim_ffn"]
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name == "token_embedding.weight":
                p.copy_(torch.randn_like(p))
            elif "norm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "pos_embedding" in name:
                p.copy_(torch.randn_like(p))
            elif name.endswith("attn.o.weight"):
                p.copy_(torch.randn_like(p) * dim_attn ** -0.5)
            elif name.endswith("ffn.fc2.weight"):
                p.copy_(torch.randn_like(p) * ffn ** -0.5)
            else:   # q, k, v, gate, fc1: [out, dim]
                p.copy_(torch.randn_like(p) * dim ** -0.5)


def make_mask(length, kind, dtype, gen):
    if kind is None:
        return None
    what, n = kind
    mask = torch.ones(length, dtype=torch.int64)
    if what == "prefix":
        mask[n:] = 0
    else:
        mask[torch.randperm(length, generator=gen)[:n]] = 0
    return mask.to(dtype)


def make_case(t5, name, seed, cfg, inputs):
    torch.manual_seed(seed)
    args = dict(cfg, shared_pos=False, dropout=0.1)
    net = t5.T5Encoder(**args).eval()
    randomize(net, cfg)
    net = net.to(torch.bfloat16)
    path = os.path.join(OUT, f"t5_{name}.pth")
    torch.save(net.state_dict(), path)

    state = torch.load(path)
    f32 = t5.T5Encoder(**args).eval()
    f32.load_state_dict({k: v.float() for k, v in state.items()})
    bf16 = t5.T5Encoder(**args).eval().to(torch.bfloat16)
    bf16.load_state_dict(state)

    gen = torch.Generator().manual_seed(seed + 100)
    for input_name, length, kind, dtype in inputs:
        ids = torch.randint(0, cfg["vocab"], (length,), generator=gen)
        mask = make_mask(length, kind, dtype, gen)
        if kind is not None and kind[0] == "prefix":
            ids[kind[1]:] = 0      # the tokenizer pads with id 0
        with torch.no_grad():
            m = None if mask is None else mask[None]
            out32 = f32(ids[None], m)[0]
            out16 = bf16(ids[None], m)[0]
        tensors = {"ids": ids, "out_f32": out32.contiguous(), "out_bf16": out16.float().contiguous()}
        if mask is not None:
            tensors["mask"] = mask
        save_file(tensors, os.path.join(OUT, f"t5_{name}_{input_name}_io.safetensors"))
        err = ((out16.float() - out32).norm() / out32.norm()).item()
        print(f"{name}/{input_name}: L={length}, bf16 vs fp32 relative L2 {err:.2e}")


def make_buckets(t5):
    rel = torch.arange(-600, 601)
    out = {"rel": rel}
    for nb in (32, 16):
        emb = t5.T5RelativeEmbedding(nb, 1, bidirectional=True, max_dist=128)
        out[f"bucket{nb}"] = emb._relative_position_bucket(rel)
    save_file(out, os.path.join(OUT, "t5_buckets.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    t5 = wan_reference.load("t5")
    make_buckets(t5)
    for name, seed, cfg, inputs in CASES:
        make_case(t5, name, seed, cfg, inputs)


if __name__ == "__main__":
    main()
