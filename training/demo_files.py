"""The shipped demo files (models/demo) and the training's work files, both ways.

turbo_layout: a WanModel state dict -> the TurboDiffusion .pth layout the export stage writes.
wan_layout: the inverse, for the import_demo stage, which turns the shipped files back into work files so a
session can continue their training without the work folder that made them (work folders do not outlive a
machine; the shipped files are in the repository).
"""
import json
import os
import shutil
import sys

import torch

import common
import recipe as R
from recipe import DIT, T5, VAE_DIM, log, save, wpath

PATCH = (1, 2, 2)   # WanModel's patch_size of the demo DiT (its patch_embedding is a Conv3d with this kernel)


def turbo_layout(sd, quantized=False):
    """WanModel state dict -> TurboDiffusion .pth layout (see scripts/reference/make_e2e_fixtures.py): the
    patch embedding as a 2-D [dim, in·1·2·2] matrix, norms and modulation fp32, every other tensor bf16;
    `quantized`: block Linears as int8_weight + per-128-block scale."""
    sys.path.insert(0, os.path.join(common.ROOT, "scripts", "reference"))
    import w8a8_reference
    sd = {k: v.float() for k, v in sd.items()}
    sd["patch_embedding.weight"] = sd["patch_embedding.weight"].reshape(DIT["dim"], -1).contiguous()
    sd = {k: (v if ("norm" in k or "modulation" in k) else v.to(torch.bfloat16)) for k, v in sd.items()}
    if quantized:
        for i in range(DIT["num_layers"]):
            for layer in [f"blocks.{i}.{p}.{x}" for p in ("self_attn", "cross_attn") for x in "qkvo"] + \
                         [f"blocks.{i}.ffn.0", f"blocks.{i}.ffn.2"]:
                w = sd.pop(f"{layer}.weight").float()
                sd[f"{layer}.int8_weight"], sd[f"{layer}.scale"] = w8a8_reference.quantize_blocks(w)
    return sd


def wan_layout(sd):
    """The inverse of turbo_layout (unquantized): the patch embedding back to its Conv3d shape [dim, in, 1, 2, 2].
    Dtypes stay as shipped, the work files' half_state layout (bf16, norms and modulation fp32), so
    turbo_layout(wan_layout(sd)) equals sd bit for bit (SLA's proj_l included: the recipe's WanModel has it)."""
    if any(k.endswith(".int8_weight") for k in sd):
        raise SystemExit("wan_layout: a quantized checkpoint (int8_weight keys) has lost precision; import dit_t2v.pth")
    out = dict(sd)
    w = out["patch_embedding.weight"]
    if w.dim() != 2 or w.shape[0] != DIT["dim"] or w.shape[1] % (PATCH[0] * PATCH[1] * PATCH[2]):
        raise SystemExit(f"wan_layout: patch_embedding.weight {tuple(w.shape)} is not [{DIT['dim']}, in·4]")
    out["patch_embedding.weight"] = w.reshape(DIT["dim"], -1, *PATCH).contiguous()
    return out


def _expect(what, shipped, ours):
    if shipped != ours:
        raise SystemExit(f"import_demo: the shipped {what} is {shipped}, this recipe builds {ours}; "
                         "import from models made by this recipe (--demo)")


def stage_import_demo():
    """Work files from the shipped demo models in --demo (needs sentencepiece, as the prepare stage):
    - spiece.model and the token table made with it (tokens.pt);
    - vae.pt: vae.pth with demo.json's latent statistics (those the shipped DiTs were trained and are run with);
    - teacher.pt: the T5 the export took from the teacher, and the T2V student's DiT as the teacher's start (the
      teacher itself is not shipped; continue from it with --stages teacher --resume_teacher);
    - wan_modules, where the wan modules can be found (as the prepare stage copies them).
    Checks that the shipped configuration is this recipe's (DiT, T5, VAE sizes) first."""
    src = R.ARGS.demo
    with open(os.path.join(src, "demo.json")) as f:
        meta = json.load(f)
    _expect("DiT", meta["dit"], DIT)
    _expect("T5", {k: meta["t5"][k] for k in T5}, T5)
    _expect("VAE width", meta["vae"]["dim"], VAE_DIM)
    shutil.copy(os.path.join(src, "spiece.model"), wpath("spiece.model"))
    if os.path.exists(wpath("tokens.pt")):   # made from another tokenizer, maybe
        os.remove(wpath("tokens.pt"))
    R.build_token_table()                     # here, where sentencepiece is (the device machine may lack it)
    load = lambda name: torch.load(os.path.join(src, name), map_location="cpu", weights_only=True)
    vae = load("vae.pth")
    save({"vae": vae, "mean": torch.tensor(meta["vae"]["latent_mean"]), "std": torch.tensor(meta["vae"]["latent_std"])},
         "vae.pt")
    t5 = load("t5.pth")
    vocab = t5["token_embedding.weight"].shape[0]
    _expect("T5 vocabulary", vocab, meta["t5"]["vocab"])
    save({"dit": wan_layout(load("dit_t2v.pth")), "t5": t5}, "teacher.pt")
    try:
        common.copy_modules(wpath("wan_modules"))
    except SystemExit as e:
        log(f"import_demo: no wan modules copied ({e}); later stages need wan22 or WAN_MODULES")
    log(f"import_demo: spiece.model, tokens.pt, vae.pt, teacher.pt (T5 vocabulary {vocab}; the DiT from the T2V student) "
        f"from {src} into {R.ARGS.work}")
