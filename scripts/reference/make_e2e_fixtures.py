"""Tiny random models in the official file formats, for the end-to-end t2v/i2v tests.

Nothing here is trained: the weights are random (fixed seeds), so the videos are noise, but every
file is exactly what the real pipeline loads:
  dit_t2v.pth, dit_t2v_quant.pth   TurboDiffusion layout (2-D patch weight, proj_l per block, fp32
                                   norms; the -quant file has int8_weight + scale per block Linear)
  dit_i2v_high.pth, dit_i2v_low.pth  36-channel experts
  t5.pth                           torch.save of a umT5 T5Encoder state dict in bf16 (text width 64)
  vae.pth                          torch.save of a WanVAE_ state dict (real structure, width 8)
  tokenizer/spiece.model           a SentencePiece unigram model with byte fallback trained on captions

Run with the pinned environment:  python scripts/reference/make_e2e_fixtures.py
"""
import io
import os
import random
from collections import OrderedDict

import sentencepiece as spm
import torch

import w8a8_reference
import wan_reference

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "CLITests", "Fixtures", "e2e")
TEXT_DIM = 64


def randomize(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            scale = 0.5 / max(p.shape[-1], 1) ** 0.5 if p.dim() > 1 else 0.3
            p.copy_(torch.randn(p.shape, generator=g) * scale)


def dit(model_mod, in_dim, seed, quantized=False):
    net = model_mod.WanModel(model_type="i2v" if in_dim == 36 else "t2v", patch_size=(1, 2, 2), freq_dim=256, eps=1e-6,
                             cross_attn_norm=True, dim=128, ffn_dim=256, num_heads=1, num_layers=2, in_dim=in_dim,
                             out_dim=16, text_dim=TEXT_DIM, text_len=512)
    randomize(net, seed)
    sd = OrderedDict((k, v.detach().clone()) for k, v in net.state_dict().items())
    sd["patch_embedding.weight"] = sd["patch_embedding.weight"].reshape(128, -1).contiguous()
    g = torch.Generator().manual_seed(seed + 1000)
    for i in range(2):
        sd[f"blocks.{i}.self_attn.attn_op.local_attn.proj_l.weight"] = torch.randn(128, 128, generator=g) * 0.05
        sd[f"blocks.{i}.self_attn.attn_op.local_attn.proj_l.bias"] = torch.randn(128, generator=g) * 0.05
    sd = OrderedDict((k, v if ("norm" in k or "modulation" in k) else v.to(torch.bfloat16)) for k, v in sd.items())
    if quantized:
        for i in range(2):
            for layer in [f"blocks.{i}.{p}.{x}" for p in ("self_attn", "cross_attn") for x in "qkvo"] + \
                         [f"blocks.{i}.ffn.0", f"blocks.{i}.ffn.2"]:
                w = sd.pop(f"{layer}.weight").float()
                q, s = w8a8_reference.quantize_blocks(w)
                sd[f"{layer}.int8_weight"], sd[f"{layer}.scale"] = q, s
    return sd


def captions(n):
    rnd = random.Random(3)
    colours = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
    shapes = ["circle", "square", "triangle", "star", "ball", "cube"]
    moves = ["moves left", "moves right", "moves up", "moves down", "bounces", "grows", "shrinks", "spins"]
    zh = ["红色的圆向左移动", "蓝色的方块向右移动", "绿色的三角形弹跳", "黄色的星星变大"]
    out = []
    for i in range(n):
        out.append(f"A {rnd.choice(colours)} {rnd.choice(shapes)} {rnd.choice(moves)} on a plain background.")
        if i % 7 == 0:
            out.append(rnd.choice(zh))
    return out


def main():
    os.makedirs(os.path.join(OUT, "tokenizer"), exist_ok=True)
    model_mod = wan_reference.load("model")
    for name, in_dim, seed, quant in [("dit_t2v", 16, 1, False), ("dit_t2v_quant", 16, 1, True),
                                      ("dit_i2v_high", 36, 2, False), ("dit_i2v_low", 36, 3, False)]:
        torch.save(dit(model_mod, in_dim, seed, quant), os.path.join(OUT, f"{name}.pth"))

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(captions(400)), model_writer=model, vocab_size=320,
                                   model_type="unigram", byte_fallback=True, character_coverage=0.995,
                                   normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    with open(os.path.join(OUT, "tokenizer", "spiece.model"), "wb") as f:
        f.write(model.getvalue())

    t5 = wan_reference.load("t5")
    enc = t5.T5Encoder(vocab=320, dim=TEXT_DIM, dim_attn=TEXT_DIM, dim_ffn=96, num_heads=4, num_layers=2,
                       num_buckets=32, shared_pos=False, dropout=0.0)
    randomize(enc, 4)
    torch.save(enc.to(torch.bfloat16).state_dict(), os.path.join(OUT, "t5.pth"))

    vae_mod = wan_reference.load("vae2_1")
    vae = vae_mod.WanVAE_(dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                          temperal_downsample=[False, True, True], dropout=0.0)
    randomize(vae, 5)
    torch.save(vae.state_dict(), os.path.join(OUT, "vae.pth"))
    for f in sorted(os.listdir(OUT)):
        p = os.path.join(OUT, f)
        print(f, os.path.getsize(p) if os.path.isfile(p) else "dir")


if __name__ == "__main__":
    main()
