"""Trains and exports the built-in demo models (models/demo/) from scratch.

    python training/train_all.py                 # every stage, on a CUDA GPU (~28 min on one H200; see models/demo/README.md)
    python training/train_all.py --stages vae,teacher --work W   # some stages; checkpoints in W

Stages (each reads and writes checkpoints in --work, so they can run in separate sessions):
  prepare  (needs sentencepiece; CPU) SentencePiece tokenizer on every caption, token table, module copies
  vae      WanVAE_ (dim 8) as an autoencoder on clips, the shape's pixels weighted up; latent mean/std
  vae_decoder  decoder alone fine-tuned on whole 17-frame clips (latents unchanged); logs the share of
           reconstructed held-out clips that pass the semantic check (the ceiling for the DiTs)
  text     T5Encoder alone with an attribute head (colour, shape, motion, background) on train captions of training
           triples (training/text_encoder.py): text.pt, text_eval.json (held-out phrasings/triples); CPU or GPU
  teacher  T2V WanModel + T5Encoder jointly, rectified flow on normalised latents (10% empty captions), plus the
           attribute loss (--text_aux_weight); --teacher_text_init starts the T5 from text.pt
  i2v      I2V WanModel (36 channels) initialised from the teacher, same objective with the image condition
  distill  students for the rCM sampler: x − r·v_student(x, r) ≈ the teacher's CFG ODE solution from (x, r),
           then fine-tuned with SLA and dense self-attention alternately (proj_l trained); distill_t2v and
           distill_i2v run one model each
  export   models/demo/*.pth, demo.json, sample_i2v.png
  eval     training/evaluate.py on the exported files
  eval_teacher  the teacher alone on evaluate.py's prompt sets (teacher_eval.json): a look before distilling
  engine_fixtures  the teacher's videos from the engine's own Philox noise, for the Swift CI
           (Tests/CLITests/Fixtures/demo_teacher)
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import flow_weights  # noqa: E402
import text_encoder  # noqa: E402
import text_split  # noqa: E402
import world  # noqa: E402

DIT = {"dim": 256, "ffn_dim": 512, "num_heads": 2, "num_layers": 4, "text_dim": 128, "freq_dim": 256}
T5 = {"dim": 128, "ffn": 256, "heads": 4, "layers": 2}
VAE_DIM = 8
SLA = {"topk": 0.5, "blkq": 16, "blkk": 16}
CFG_SCALE = 3.0
DEFAULT_OUT = os.path.join(common.ROOT, "models", "demo")

DEV = "cuda" if torch.cuda.is_available() else "cpu"
ARGS = None


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def wpath(name):
    return os.path.join(ARGS.work, name)


def save(obj, name):
    tmp = wpath(name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, wpath(name))


def half_state(m):
    """Checkpoints travel between sessions in bf16 (norms/modulation fp32) to stay small."""
    return {k: (v if ("norm" in k or "modulation" in k) else v.to(torch.bfloat16)).cpu() for k, v in m.state_dict().items()}


def load_into(m, sd):
    m.load_state_dict({k: v.float() for k, v in sd.items()})
    return m


def budget(stage, default):
    return ARGS.scale * default


# ---- prepare ------------------------------------------------------------------------------------------------
def stage_prepare():
    """The tokenizer (spiece.model in --work; export copies it) on the grammar's train captions, then the token
    table. Later stages need neither sentencepiece nor this stage's session: tokens() rebuilds the table from
    spiece.model where tokens.pt is missing (carry spiece.model, not the 5 MB table)."""
    import io
    import captions
    import palette
    import sentencepiece as spm
    train = captions.captions_for(palette.all_tuples(), ARGS.captions_per_tuple, "train", ARGS.caption_seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=model,
                                   vocab_size=ARGS.vocab, model_type="unigram", byte_fallback=True,
                                   character_coverage=1.0, normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, hard_vocab_limit=False, num_threads=os.cpu_count() or 1)
    tmp = wpath("spiece.model.tmp")
    with open(tmp, "wb") as f:
        f.write(model.getvalue())
    os.replace(tmp, wpath("spiece.model"))
    if os.path.exists(wpath("tokens.pt")):
        os.remove(wpath("tokens.pt"))
    build_token_table(train)
    mods = wpath("wan_modules")
    os.makedirs(mods, exist_ok=True)
    for f in common.MODULE_FILES:
        shutil.copy(os.path.join(common.module_source(), f), mods)


def build_token_table(train=None):
    """tokens.pt from spiece.model and the grammar: rows [0, T·K) the train phrasings (K = --captions_per_tuple
    per tuple, tuple-major in palette.tuple_index order), then T·H held-out phrasings (H = --held_out_per_tuple;
    evaluation only), then the empty caption. Every row is first put through the grammar's keyword check."""
    import captions
    import palette
    import sentencepiece as spm
    tuples = palette.all_tuples()
    k_train, k_held, seed = ARGS.captions_per_tuple, ARGS.held_out_per_tuple, ARGS.caption_seed
    train = train or captions.captions_for(tuples, k_train, "train", seed)
    held = captions.captions_for(tuples, k_held, "held_out", seed)
    for i, text in enumerate(train + held):
        per, base = (k_train, 0) if i < len(train) else (k_held, len(train))
        t = tuples[(i - base) // per]
        got = captions.parse(text)
        if got[:3] != t[:3] or got[3] not in (t[3], None):
            raise SystemExit(f"caption {text!r} parses as {got}, made for {t}")
    sp = spm.SentencePieceProcessor(model_file=wpath("spiece.model"))
    texts = train + held + [""]
    ids = [row + [1] for row in sp.encode([" ".join(c.split()) for c in texts])]   # Wan's whitespace cleaning, '</s>'
    lens = torch.tensor([len(r) for r in ids], dtype=torch.int16)
    save({"flat": torch.tensor([i for r in ids for i in r], dtype=torch.int16), "lens": lens,   # vocab < 32768
          "vocab": sp.get_piece_size(), "offset": {"train": 0, "held_out": len(train)}, "empty": len(texts) - 1,
          "per_tuple": {"train": k_train, "held_out": k_held}, "caption_seed": seed}, "tokens.pt")
    log(f"tokenizer: vocab {sp.get_piece_size()} on {len(train)} train captions; {len(held)} held-out captions; "
        f"tokens per caption median {int(lens.median())}, longest {int(lens.max())}")


_TOK = {}


def tokens():
    """(ids [rows, width] long, lens [rows] long, vocab) on DEV; caption_table() has the rest of tokens.pt."""
    if "ids" not in _TOK:
        if not os.path.exists(wpath("tokens.pt")):
            build_token_table()
        t = torch.load(wpath("tokens.pt"), map_location="cpu")
        per = t["per_tuple"]
        if (per["train"], per["held_out"], t["caption_seed"]) != (ARGS.captions_per_tuple, ARGS.held_out_per_tuple,
                                                                 ARGS.caption_seed):
            raise SystemExit(f"tokens.pt was made with {per} and caption seed {t['caption_seed']}; pass the same "
                             "--captions_per_tuple/--held_out_per_tuple/--caption_seed or rerun --stages prepare")
        lens = t["lens"].long()
        ids = torch.zeros(len(lens), int(lens.max()), dtype=torch.long)
        ids[torch.arange(ids.shape[1])[None] < lens[:, None]] = t["flat"].long()   # row-major = concatenation order
        _TOK.update(t, ids=ids.to(DEV), lens=lens.to(DEV))
    return _TOK["ids"], _TOK["lens"], _TOK["vocab"]


def caption_table():
    tokens()
    return _TOK


def caption_rows(tuple_idx, phrasing, k):
    """Rows of the token table: caption k (mod the rows per tuple) of each tuple, in one phrasing."""
    t = caption_table()
    per = t["per_tuple"][phrasing]
    return t["offset"][phrasing] + tuple_idx * per + k % per


def empty_rows(like):
    return torch.full_like(like, caption_table()["empty"])


def caption_text(row):
    """The caption of a table row, from the grammar (captions.caption_k), as the table was made."""
    import captions
    import palette
    t, row = caption_table(), int(row)
    if row == t["empty"]:
        return ""
    phrasing = "held_out" if row >= t["offset"]["held_out"] else "train"
    tup, k = divmod(row - t["offset"][phrasing], t["per_tuple"][phrasing])
    return captions.caption_k(palette.all_tuples()[tup], k, phrasing, t["caption_seed"])


def text_batch(t5, tok, cap_idx):
    ids, lens, _ = tok
    sel_ids, sel_lens = ids[cap_idx], lens[cap_idx]
    width = int(sel_lens.max())
    return common.encode_text(t5, sel_ids[:, :width], sel_lens)


# ---- VAE ----------------------------------------------------------------------------------------------------
def first_frame_clip(video):
    """The I2V condition clip: the first frame followed by zero frames. video: [B,3,T,H,W]."""
    out = torch.zeros_like(video)
    out[:, :, :1] = video[:, :, :1]
    return out


def warmup_cosine(base, step, warmup, done):
    """Learning rate: linear warm-up over `warmup` steps, then cosine from base to base/10 as `done` goes 0 → 1."""
    return base * min(1, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


def apply_gradients(opt, loss, params):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def vae_clips(n, gen, step):
    """Rendered clips [n,3,T,H,W] and the shape's coverage; every fifth batch the I2V condition clip."""
    x, cover = world.render(world.sample_params(n, gen), DEV, with_cover=True)
    if step % 5 == 0:
        x, cover = first_frame_clip(x), first_frame_clip(cover)
    return x, cover


def recon_loss(rec, x, cover):
    """L1 + L2 with the shape's pixels weighted up: the shape covers ~5% of a frame, and unweighted losses
    let a small VAE settle on reproducing the background alone (the first demo VAE did)."""
    w = 1 + ARGS.object_weight * cover
    d = rec - x
    return (w * d.abs()).mean() + (w * d * d).mean()


def stage_vae():
    vae = common.make_vae(VAE_DIM).to(DEV)
    if ARGS.vae_init:   # e.g. the shipped models/demo/vae.pth (WanVAE_ keys, fp32): fine-tune instead of from scratch
        vae.load_state_dict(torch.load(ARGS.vae_init, map_location="cpu", weights_only=True))
        log(f"vae: starting from {ARGS.vae_init}")
    opt = torch.optim.AdamW(vae.parameters(), lr=ARGS.vae_lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(10)
    steps, t0, bs = int(budget("vae", ARGS.vae_steps)), time.time(), ARGS.vae_batch
    for step in range(steps):
        lr = warmup_cosine(ARGS.vae_lr, step, 200, step / steps)
        for g in opt.param_groups:
            g["lr"] = lr
        x, cover = vae_clips(bs, gen, step)
        # 5-frame windows (1 + 4: two latent frames) train the same causal chunks 2.5x faster than 17 frames
        k = int(torch.randint(0, world.FRAMES - 4, (1,), generator=gen)) if step % 5 else 0
        x, cover = x[:, :, k:k + 5], cover[:, :, k:k + 5]
        with torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            mu, log_var = common.vae_encode(vae, x)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var.clamp(-30, 20))
            rec = common.vae_decode(vae, z)
        rec = rec.float()
        kl = 0.5 * (mu.float() ** 2 + log_var.float().exp() - 1 - log_var.float()).mean()
        loss = recon_loss(rec, x, cover) + 1e-4 * kl
        apply_gradients(opt, loss, vae.parameters())
        if step % 200 == 0 or step == steps - 1:
            log(f"vae {step}/{steps} loss {loss.item():.4f} kl {kl.item():.3f} {time.time() - t0:.0f}s")
        if time.time() - t0 > ARGS.vae_seconds:
            log(f"vae: time cap at step {step}")
            break
    vae.eval()
    stats = latent_stats(vae)
    save({"vae": {k: v.cpu() for k, v in vae.state_dict().items()}, **stats}, "vae.pt")


def stage_vae_decoder():
    """Fine-tunes the decoder alone on whole 17-frame clips (the encoder, hence the latents, stay fixed):
    decoding latent frames past the second runs the causal caches in a state 5-frame windows never reach."""
    ck = torch.load(wpath("vae.pt"), map_location="cpu")
    vae = common.make_vae(VAE_DIM).to(DEV)
    vae.load_state_dict(ck["vae"])
    params = list(vae.decoder.parameters()) + list(vae.conv2.parameters())
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.0)
    gen = torch.Generator().manual_seed(12)
    steps, t0 = int(budget("vae_decoder", ARGS.vae_decoder_steps)), time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = warmup_cosine(5e-4, step, 50, step / steps)
        x, cover = vae_clips(ARGS.vae_batch // 3, gen, step)
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            mu, _ = common.vae_encode(vae, x)
        with torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            rec = common.vae_decode(vae, mu.float()).float()
        loss = recon_loss(rec, x, cover)
        apply_gradients(opt, loss, params)
        if step % 100 == 0 or step == steps - 1:
            log(f"vae decoder {step}/{steps} loss {loss.item():.4f} {time.time() - t0:.0f}s")
        if time.time() - t0 > ARGS.vae_decoder_seconds:
            log(f"vae decoder: time cap at step {step}")
            break
    vae.eval()
    stats = latent_stats(vae)
    log(f"vae decoder: encoder unchanged, latent mean moved by {(stats['mean'] - ck['mean']).abs().max():.2e}")
    # keep the statistics the DiTs were trained with
    save({"vae": {k: v.cpu() for k, v in vae.state_dict().items()}, "mean": ck["mean"], "std": ck["std"],
          "psnr": stats["psnr"], "recon_pass": stats["recon_pass"]}, "vae.pt")


@torch.no_grad()
def latent_stats(vae):
    gen = torch.Generator().manual_seed(11)
    mus, psnrs = [], []
    for _ in range(ARGS.stat_batches):
        x = world.render(world.sample_params(ARGS.stat_batch, gen), DEV)
        mu, _ = common.vae_encode(vae, x)
        assert mu.shape[2] == 5, mu.shape   # 17 frames -> 5 latent frames
        rec = common.vae_decode(vae, mu).clamp(-1, 1)
        mse = ((rec - x) ** 2).mean(dim=(1, 2, 3, 4))
        psnrs.append(10 * torch.log10(4 / mse))
        mus.append(mu.transpose(0, 1).reshape(16, -1))
    m = torch.cat(mus, 1)
    psnr = torch.cat(psnrs).mean().item()
    log(f"vae: reconstruction PSNR {psnr:.2f} dB (held-out random clips, 17 frames -> 5 latent frames)")
    recon_pass = reconstruction_pass_rate(vae, gen)
    log(f"vae: the semantic check passes on {recon_pass:.2f} of reconstructed held-out clips (the ceiling for the DiTs)")
    return {"mean": m.mean(1).cpu(), "std": m.std(1).cpu(), "psnr": psnr, "recon_pass": recon_pass}


@torch.no_grad()
def reconstruction_pass_rate(vae, gen, per_triple=8):
    """evaluate.check (colour present and moving as named) on VAE reconstructions of held-out clips."""
    import evaluate
    ok = 0
    for i, (c, s, m) in enumerate(world.HELD_OUT):
        bgs = world.backgrounds_for(c)
        p = world.params_for(c, s, m, bgs[i % len(bgs)], per_triple, gen)
        x = world.render(p, DEV)
        rec = (common.vae_decode(vae, common.vae_encode(vae, x)[0]).clamp(-1, 1) + 1) / 2
        ok += sum(a and b for a, b, _ in (evaluate.check(v.float(), c, m) for v in rec))
    return ok / (per_triple * len(world.HELD_OUT))


def load_vae():
    ck = torch.load(wpath("vae.pt"), map_location="cpu")
    vae = common.make_vae(VAE_DIM).to(DEV).eval()
    vae.load_state_dict(ck["vae"])
    for p in vae.parameters():
        p.requires_grad_(False)
    return vae, ck["mean"].to(DEV).view(1, 16, 1, 1, 1), ck["std"].to(DEV).view(1, 16, 1, 1, 1), ck


@torch.no_grad()
def build_latents(n, seed):
    """Encodes n training clips: normalised latents, normalised I2V condition latents, caption parts and
    the shape's coverage on the latent grid (flow_weights.latent_cover, u8 in 0..255)."""
    vae, mean, std, _ = load_vae()
    gen = torch.Generator().manual_seed(seed)
    lat, cond, parts, covers = [], [], [], []
    for i in range(0, n, 256):
        p = world.sample_params(min(256, n - i), gen)
        x, cover = world.render(p, DEV, with_cover=True)
        lat.append(((common.vae_encode(vae, x)[0] - mean) / std).to(torch.bfloat16))
        cond.append(((common.vae_encode(vae, first_frame_clip(x))[0] - mean) / std).to(torch.bfloat16))
        parts.append(torch.stack([p["colour"], p["shape"], p["motion"], p["bg"]], 1))
        covers.append((flow_weights.latent_cover(cover) * 255).round().to(torch.uint8))
    return torch.cat(lat), torch.cat(cond), torch.cat(parts).to(DEV), torch.cat(covers)


def random_captions(parts, gen_dev, drop=0.1):
    """A random train-phrasing caption row for each clip (parts: colour, shape, motion, bg); `drop` of them empty."""
    k = torch.randint(caption_table()["per_tuple"]["train"], (parts.shape[0],), device=DEV, generator=gen_dev)
    idx = caption_rows(world.tuple_index(parts[:, 0], parts[:, 1], parts[:, 2], parts[:, 3]), "train", k)
    if drop > 0:
        idx = torch.where(torch.rand(parts.shape[0], device=DEV, generator=gen_dev) < drop, empty_rows(idx), idx)
    return idx


def i2v_condition(cond):
    """cat[mask (4 ch, 1 on latent frame 0), condition latent (16)] -> [B, 20, F, h, w]."""
    mask = torch.zeros(cond.shape[0], 4, *cond.shape[2:], device=cond.device, dtype=torch.float32)
    mask[:, :, 0] = 1
    return torch.cat([mask, cond.float()], 1)


def progress(step, steps, t0, seconds):
    """Fraction of the stage done: by steps or by its time cap, whichever is further along, so the cosine
    schedule reaches its end when the time cap stops a stage early."""
    return max(step / steps, (time.time() - t0) / seconds)


# ---- flow-matching training (teacher, i2v) -----------------------------------------------------------------
class EMA:
    def __init__(self, modules, decay):
        self.decay, self.src = decay, modules
        self.copies = [copy.deepcopy(m).eval() for m in modules]

    @torch.no_grad()
    def update(self):
        for c, m in zip(self.copies, self.src):
            torch._foreach_lerp_(list(c.parameters()), list(m.parameters()), 1 - self.decay)


def flow_train(name, net, t5, i2v, steps, seconds, lr, head=None):
    """head: the attribute head (teacher only); with it the T5 also learns the attribute loss, weight
    --text_aux_weight. Returns the EMA copies of net, t5 (not i2v) and head (when given)."""
    lat, cond, parts, cover = build_latents(ARGS.clips, seed=20)
    tok = tokens()
    extra = ([t5] if not i2v else []) + ([head] if head is not None else [])
    params = list(net.parameters()) + [p for m in extra for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    ema = EMA([net] + extra, 0.998)
    labels = text_encoder.label_table(text_split_of_table(), DEV) if head is not None else None
    gen = torch.Generator(device=DEV).manual_seed(30 + i2v)
    t0 = time.time()
    for step in range(steps):
        done = progress(step, steps, t0, seconds)
        if done >= 1:
            log(f"{name}: time cap at step {step}")
            break
        for g in opt.param_groups:
            g["lr"] = warmup_cosine(lr, step, 200, done)
        sel = torch.randint(lat.shape[0], (ARGS.batch,), device=DEV, generator=gen)
        x0 = lat[sel].float()
        eps = torch.randn(x0.shape, device=DEV, generator=gen)
        u = torch.randn(x0.shape[0], device=DEV, generator=gen)
        r = torch.where(torch.rand(x0.shape[0], device=DEV, generator=gen) < 0.5, torch.sigmoid(u + 0.5),
                        torch.rand(x0.shape[0], device=DEV, generator=gen)).clamp(0.002, 0.999)
        rb = r.view(-1, 1, 1, 1, 1)
        xr = (1 - rb) * x0 + rb * eps
        with torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            cap = random_captions(parts[sel], gen)
            with torch.set_grad_enabled(not i2v):
                out, lens = text_encoder.encode(t5, tok, cap)
            v = common.dit(net, xr, r, text_encoder.as_context(out, lens), i2v_condition(cond[sel]) if i2v else None)
            # empty captions (and background-less ones, for the background) have IGNORE labels
            aux = text_encoder.attribute_loss(head(out, lens), labels[cap]) if head is not None else None
        loss = flow_weights.weighted_mse(v.float(), eps - x0, cover[sel].float() / 255, ARGS.flow_object_weight)
        flow = loss
        if aux is not None:
            loss = loss + ARGS.text_aux_weight * aux
        apply_gradients(opt, loss, params)
        ema.update()
        if step % 250 == 0 or step == steps - 1:
            log(f"{name} {step}/{steps} loss {flow.item():.4f}" + ("" if aux is None else f" attribute loss {aux.item():.4f}")
                + f" {time.time() - t0:.0f}s")
    return ema.copies


def stage_teacher():
    if ARGS.teacher_text_init and not os.path.exists(wpath("text.pt")):
        raise SystemExit(f"--teacher_text_init: {wpath('text.pt')} is missing (run --stages text first)")
    if ARGS.resume_teacher and ARGS.teacher_text_init:
        raise SystemExit("--resume_teacher and --teacher_text_init both name the T5's start; pass one")
    _, _, vocab = tokens()
    log(f"batched DiT forward = WanModel.forward (max abs diff {common.check_batched_forward(DIT, DEV):.1e})")
    net, t5 = common.make_dit(DIT, 16).to(DEV), common.make_t5({**T5, "vocab": vocab}).to(DEV)
    head = text_encoder.AttributeHead(T5["dim"]).to(DEV) if ARGS.text_aux_weight > 0 else None
    if ARGS.resume_teacher:   # a second session continuing the first one's (EMA) weights
        ck = torch.load(wpath("teacher.pt"), map_location="cpu")
        load_into(net, ck["dit"]), load_into(t5, ck["t5"])
        if head is not None and "text_head" in ck:
            load_into(head, ck["text_head"])
    if ARGS.teacher_text_init:
        ck = torch.load(wpath("text.pt"), map_location="cpu")
        load_into(t5, ck["t5"])
        if head is not None:
            load_into(head, ck["head"])
        log(f"teacher: T5{' and attribute head' if head is not None else ''} from text.pt")
    out = flow_train("teacher", net, t5, False, int(budget("teacher", ARGS.teacher_steps)), ARGS.teacher_seconds,
                     ARGS.teacher_lr, head)
    net_e, t5_e = out[:2]
    extra = {}
    if head is not None:   # training-only: export reads "t5" and "dit" alone
        extra["text_head"] = half_state(out[2])
        text_encoder.report(text_encoder.evaluate(t5_e, out[2], tokens(), text_split_of_table(), DEV), log,
                            wpath("teacher_text_eval.json"))
    save({"dit": half_state(net_e), "t5": half_state(t5_e), **extra}, "teacher.pt")


# ---- text encoder pretraining -----------------------------------------------------------------------------
def text_split_of_table():
    t = caption_table()
    split = text_split.TableSplit(t["per_tuple"]["train"], t["per_tuple"]["held_out"], t["caption_seed"])
    text_encoder.check_table(split, t)
    return split


def stage_text():
    tok, split = tokens(), text_split_of_table()
    t5 = common.make_t5({**T5, "vocab": tok[2]}).to(DEV)
    head = text_encoder.AttributeHead(T5["dim"]).to(DEV)
    lr, steps = ARGS.text_lr, int(budget("text", ARGS.text_steps))
    log(f"text: {len(split.train_rows())} train captions, batch {ARGS.text_batch}, {torch.get_num_threads()} threads")
    done = text_encoder.pretrain(t5, head, tok, split, steps, ARGS.text_seconds, ARGS.text_batch,
                                 lambda step, frac: warmup_cosine(lr, step, 100, frac), log, DEV)
    save({"t5": half_state(t5), "head": half_state(head), "steps": done}, "text.pt")
    # evaluated as the teacher will start: through the bf16 round trip of text.pt
    ck = torch.load(wpath("text.pt"), map_location="cpu")
    load_into(t5, ck["t5"]), load_into(head, ck["head"])
    text_encoder.report(text_encoder.evaluate(t5, head, tok, split, DEV), log, wpath("text_eval.json"))


def load_t5():
    ck = torch.load(wpath("teacher.pt"), map_location="cpu")
    t5 = load_into(common.make_t5({**T5, "vocab": tokens()[2]}), ck["t5"]).to(DEV).eval()
    for p in t5.parameters():
        p.requires_grad_(False)
    return t5, ck


def stage_i2v():
    t5, ck = load_t5()
    net = common.make_dit(DIT, 36)
    sd = {k: v.float() for k, v in ck["dit"].items()}
    w = sd["patch_embedding.weight"]
    sd["patch_embedding.weight"] = torch.cat([w, torch.zeros(w.shape[0], 20, *w.shape[2:])], 1)
    net.load_state_dict(sd)
    (net_e,) = flow_train("i2v", net.to(DEV), t5, True, int(budget("i2v", ARGS.i2v_steps)), ARGS.i2v_seconds, 2e-4)
    save({"dit": half_state(net_e)}, "i2v.pt")


# ---- distillation ---------------------------------------------------------------------------------------
def cfg_velocity(net, ctx_c, ctx_u, y):
    def vfn(x, r):
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            xx = torch.cat([x, x])
            v = common.dit(net, xx, torch.cat([r, r]), ctx_c + ctx_u, None if y is None else torch.cat([y, y]))
        vc, vu = v.float().chunk(2)
        return vu + CFG_SCALE * (vc - vu)
    return vfn


@torch.no_grad()
def build_pool(teacher, t5, i2v, n, seed, sigmas):
    """Distillation pairs (x, r, target, caption, condition): x at the rCM schedule points."""
    _, cond_all, parts_all, _ = build_latents(n, seed)
    tok = tokens()
    gen = torch.Generator(device=DEV).manual_seed(seed)
    rows = {k: [] for k in ("x", "r", "t", "cap", "cond")}
    sched = common.rcm_rs(4, 80)[1:4]
    for i in range(0, n, ARGS.pool_batch):
        parts = parts_all[i:i + ARGS.pool_batch]
        b = parts.shape[0]
        cap = random_captions(parts, gen, drop=0.0)
        ctx_c = text_batch(t5, tok, cap)
        ctx_u = text_batch(t5, tok, empty_rows(cap))
        y = i2v_condition(cond_all[i:i + b]) if i2v else None
        vfn = cfg_velocity(teacher, ctx_c, ctx_u, y)
        sig = torch.tensor(sigmas, device=DEV)[torch.randint(len(sigmas), (b,), device=DEV, generator=gen)]
        r0 = torch.sin(torch.atan(sig)) / (torch.sin(torch.atan(sig)) + torch.cos(torch.atan(sig)))
        eps = torch.randn(b, 16, 5, 8, 8, device=DEV, generator=gen)
        x = r0.view(-1, 1, 1, 1, 1) * eps                      # the engine starts from r0·ε
        x0 = common.ode_solve(vfn, x, r0, 0.0, ARGS.ode_steps)
        entries = [(x, r0, x0)]
        for _ in range(ARGS.extra_noise_pairs):   # more pure-noise inputs: the whole task of the 1-step student
            xe = r0.view(-1, 1, 1, 1, 1) * torch.randn(x.shape, device=DEV, generator=gen)
            entries.append((xe, r0, common.ode_solve(vfn, xe, r0, 0.0, ARGS.ode_steps)))
        levels = [torch.full((b,), s, device=DEV) for s in sched] + [0.05 + 0.9 * torch.rand(b, device=DEV, generator=gen)]
        for r in levels:
            xr = (1 - r.view(-1, 1, 1, 1, 1)) * x0 + r.view(-1, 1, 1, 1, 1) * torch.randn(x0.shape, device=DEV, generator=gen)
            entries.append((xr, r, common.ode_solve(vfn, xr, r, 0.0, max(8, int(ARGS.ode_steps * r.max())))))
        for xe, re, te in entries:
            rows["x"].append(xe.half())
            rows["r"].append(re)
            rows["t"].append(te.half())
            rows["cap"].append(cap)
            rows["cond"].append(cond_all[i:i + b] if i2v else torch.zeros(b, 1, device=DEV))
    log(f"pool: {sum(len(r) for r in rows['r'])} pairs")
    return {k: torch.cat(v) for k, v in rows.items()}


def student_loss(net, t5, tok, pool, sel, i2v):
    x, r, tgt = pool["x"][sel].float(), pool["r"][sel], pool["t"][sel].float()
    with torch.no_grad():
        ctx = text_batch(t5, tok, pool["cap"][sel])
    with torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
        v = common.dit(net, x, r, ctx, i2v_condition(pool["cond"][sel]) if i2v else None)
    x0 = x - r.view(-1, 1, 1, 1, 1) * v.float()
    return F.mse_loss(x0, tgt)


def train_student(name, net, t5, pool, i2v, steps, seconds, lr, sla_mix=False):
    tok = tokens()
    params = [p for p in net.parameters() if p.requires_grad]
    # proj_l starts at zero in the SLA stage: it gets a larger step so the linear branch actually learns
    proj = [p for n, p in net.named_parameters() if "proj_l" in n] if sla_mix else []
    groups = [{"params": [p for p in params if all(p is not q for q in proj)], "mult": 1.0}]
    if proj:
        groups.append({"params": proj, "mult": ARGS.proj_l_lr_mult})
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    gen = torch.Generator(device=DEV).manual_seed(40)
    t0 = time.time()
    for step in range(steps):
        done = progress(step, steps, t0, seconds)
        if done >= 1:
            log(f"{name}: time cap at step {step}")
            break
        for g in opt.param_groups:
            g["lr"] = g["mult"] * warmup_cosine(lr, step, 100, done)
        sel = torch.randint(pool["r"].shape[0], (ARGS.batch,), device=DEV, generator=gen)
        if sla_mix:
            common.ATTN.update(mode="sla", **SLA)
            loss = student_loss(net, t5, tok, pool, sel, i2v)
            common.ATTN["mode"] = "dense"
            loss = 0.5 * (loss + student_loss(net, t5, tok, pool, sel, i2v))
        else:
            loss = student_loss(net, t5, tok, pool, sel, i2v)
        apply_gradients(opt, loss, params)
        if step % 250 == 0 or step == steps - 1:
            log(f"{name} {step}/{steps} loss {loss.item():.5f} {time.time() - t0:.0f}s")
    common.ATTN["mode"] = "dense"
    return net


def stage_distill():
    stage_distill_t2v()
    stage_distill_i2v()


def stage_distill_t2v():
    distill(False)


def stage_distill_i2v():
    distill(True)


def distill(only_i2v):
    t5, ck = load_t5()
    for name, src, i2v, sig in (("t2v", ck["dit"], False, [80, 80, 80, 200]),
                                ("i2v", None, True, [200, 200, 200, 80])):
        if i2v != only_i2v:
            continue
        sd = src if src is not None else torch.load(wpath("i2v.pt"), map_location="cpu")["dit"]
        teacher = load_into(common.make_dit(DIT, 36 if i2v else 16), sd).to(DEV).eval()
        pool = build_pool(teacher, t5, i2v, ARGS.pool_clips, 50 + i2v, sig)
        student = load_into(common.make_dit(DIT, 36 if i2v else 16), sd).to(DEV).train()
        steps = int(budget("distill", ARGS.distill_steps))
        train_student(f"distill-{name}", student, t5, pool, i2v, steps, ARGS.distill_seconds, 1e-4)
        common.ATTN.update(mode="sla", **SLA)
        train_student(f"sla-{name}", student, t5, pool, i2v, int(budget("sla", ARGS.sla_steps)), ARGS.sla_seconds, 5e-5,
                      sla_mix=True)
        save({"dit": half_state(student)}, f"student_{name}.pt")
        del pool


# ---- export ---------------------------------------------------------------------------------------------
def turbo_layout(sd, quantized=False):
    """WanModel state dict -> TurboDiffusion .pth layout (see scripts/reference/make_e2e_fixtures.py)."""
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


def stage_export():
    os.makedirs(ARGS.out, exist_ok=True)
    vck = torch.load(wpath("vae.pt"), map_location="cpu")
    t2v, i2v = torch.load(wpath("student_t2v.pt"), map_location="cpu")["dit"], torch.load(wpath("student_i2v.pt"), map_location="cpu")["dit"]
    torch.save(turbo_layout(t2v), os.path.join(ARGS.out, "dit_t2v.pth"))
    torch.save(turbo_layout(t2v, quantized=True), os.path.join(ARGS.out, "dit_t2v_quant.pth"))
    torch.save(turbo_layout(i2v), os.path.join(ARGS.out, "dit_i2v.pth"))
    torch.save({k: v.float() for k, v in vck["vae"].items()}, os.path.join(ARGS.out, "vae.pth"))
    shutil.copy(wpath("spiece.model"), os.path.join(ARGS.out, "spiece.model"))
    t5 = torch.load(wpath("teacher.pt"), map_location="cpu")["t5"]
    torch.save({k: v.to(torch.bfloat16) for k, v in t5.items()}, os.path.join(ARGS.out, "t5.pth"))
    # the sample image: first frame of an in-distribution clip
    from PIL import Image
    p = world.params_for("orange", "circle", "right", "navy", 1, torch.Generator().manual_seed(7))
    frame = ((world.render(p)[0, :, 0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    Image.fromarray(frame).save(os.path.join(ARGS.out, "sample_i2v.png"))
    import evaluate
    import captions
    # the Swift CI's held-out-phrasing prompts (Tests/CLITests/DemoSemanticTests.swift): each held-out triple
    # twice, captions of the held-out constructions, one --seed each
    ci_cases = [{"prompt": caption_text(row), "colour": c, "shape": s_, "motion": m, "background": b, "seed": i}
                for i, (c, s_, m, b, row) in enumerate(evaluate.eval_cases(world.HELD_OUT, "held_out", 2))]
    meta = {
        "dit": DIT, "vae": {"dim": VAE_DIM, "z_dim": 16, "latent_mean": [round(float(v), 6) for v in vck["mean"]],
                            "latent_std": [round(float(v), 6) for v in vck["std"]]},
        "t5": {"vocab": tokens()[2], **T5},
        "size": [world.SIZE, world.SIZE], "frames": world.FRAMES, "fps": world.FPS,
        "sla_topk": SLA["topk"], "sla_block_q": SLA["blkq"], "sla_block_k": SLA["blkk"],
        "held_out": [" ".join(t) for t in world.HELD_OUT],
        "world": {"colours": world.COLOURS, "backgrounds": world.BACKGROUNDS,
                  "white_shapes_on": world.backgrounds_for("white")},
        "captions": {"grammar": "training/captions.py", "train_constructions": [t[0] for t in captions.TRAIN],
                     "held_out_constructions": [t[0] for t in captions.HELD_OUT]},
        "held_out_phrasings": ci_cases,
        "sample_prompts": {
            "t2v": ["a red circle moving right on a black background", "A yellow star moves up.",
                    "蓝色的正方形向左移动，灰色背景", "white triangle, bouncing, navy background",
                    "a green square growing on a brown background",
                    "a crimson disc drifting toward the left edge on a white background, cinematic",
                    "一个橙色的星星在米色的背景上往下掉"],
            "i2v": [{"prompt": "an orange circle moving right on a navy background",
                     "image": "models/demo/sample_i2v.png"}]},
    }
    with open(os.path.join(ARGS.out, "demo.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    for f in sorted(os.listdir(ARGS.out)):
        log(f"{f}: {os.path.getsize(os.path.join(ARGS.out, f)) / 1e6:.2f} MB")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--stages", default="prepare,vae,vae_decoder,teacher,i2v,distill,export,eval,engine_fixtures")
    ap.add_argument("--work", default=os.path.join(common.ROOT, "training", "work"))
    ap.add_argument("--out", default=DEFAULT_OUT, help="where export writes the model files")
    ap.add_argument("--fixtures", default=os.path.join(common.ROOT, "Tests", "CLITests", "Fixtures", "demo_teacher"),
                    help="where engine_fixtures writes the teacher videos for the Swift CI")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every step count (toy runs: 0.01)")
    ap.add_argument("--vocab", type=int, default=1024, help="SentencePiece pieces asked for (prepare)")
    ap.add_argument("--captions_per_tuple", type=int, default=64, help="train-phrasing captions per "
                    "(colour, shape, motion, background) in the token table (prepare)")
    ap.add_argument("--held_out_per_tuple", type=int, default=8, help="held-out-phrasing captions per tuple (prepare)")
    ap.add_argument("--caption_seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--vae_batch", type=int, default=48)
    ap.add_argument("--vae_steps", type=int, default=2000)
    ap.add_argument("--vae_lr", type=float, default=6e-4)
    ap.add_argument("--vae_init", default=None, help="a WanVAE_ state dict (vae.pth) to start the vae stage from; "
                    "with --vae_steps 0 the stage only measures it and writes its latent statistics")
    ap.add_argument("--object_weight", type=float, default=10.0, help="extra loss weight on the shape's pixels")
    ap.add_argument("--flow_object_weight", type=float, default=0.0, help="teacher and i2v: extra flow-loss weight "
                    "on the latent positions the shape covers (flow_weights.py; 0: the plain MSE the shipped models used)")
    ap.add_argument("--vae_decoder_steps", type=int, default=380)
    ap.add_argument("--vae_decoder_seconds", type=float, default=70)
    ap.add_argument("--sla_steps", type=int, default=5000)
    ap.add_argument("--proj_l_lr_mult", type=float, default=20.0)
    ap.add_argument("--clips", type=int, default=20000)
    ap.add_argument("--pool_clips", type=int, default=8192)
    ap.add_argument("--pool_batch", type=int, default=512)
    ap.add_argument("--ode_steps", type=int, default=16)
    ap.add_argument("--extra_noise_pairs", type=int, default=1, help="further pure-noise pairs per pool clip")
    ap.add_argument("--resume_teacher", action="store_true")
    ap.add_argument("--text_steps", type=int, default=6000)
    ap.add_argument("--text_seconds", type=float, default=600)
    ap.add_argument("--text_batch", type=int, default=128)
    ap.add_argument("--text_lr", type=float, default=2e-3)
    ap.add_argument("--teacher_text_init", action="store_true", help="start the teacher's T5 (and the attribute "
                    "head) from text.pt of the text stage")
    ap.add_argument("--text_aux_weight", type=float, default=0.1, help="weight of the attribute loss on the T5 "
                    "during the teacher stage (0: flow loss alone)")
    ap.add_argument("--teacher_steps", type=int, default=40000)
    ap.add_argument("--teacher_lr", type=float, default=3e-4)
    ap.add_argument("--i2v_steps", type=int, default=20000)
    ap.add_argument("--distill_steps", type=int, default=40000)
    ap.add_argument("--stat_batches", type=int, default=8)
    ap.add_argument("--stat_batch", type=int, default=64)
    ap.add_argument("--vae_seconds", type=float, default=200)
    ap.add_argument("--teacher_seconds", type=float, default=470)
    ap.add_argument("--i2v_seconds", type=float, default=90)
    ap.add_argument("--distill_seconds", type=float, default=300)
    ap.add_argument("--sla_seconds", type=float, default=40)
    ARGS = ap.parse_args()
    os.makedirs(ARGS.work, exist_ok=True)
    if os.path.isdir(wpath("wan_modules")) and "WAN_MODULES" not in os.environ:
        os.environ["WAN_MODULES"] = wpath("wan_modules")
    torch.manual_seed(0)
    if DEV == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # evaluate.py imports this file as the module train_all, a second copy beside __main__: it needs the options
    import train_all
    train_all.ARGS = ARGS
    for st in ARGS.stages.split(","):
        log(f"== stage {st}")
        if st in ("eval", "eval_teacher", "engine_fixtures"):
            import evaluate
            if st == "eval":
                evaluate.run(ARGS.out, ARGS.work, DEV, quick=ARGS.scale < 0.5)
            elif st == "eval_teacher":
                evaluate.run_teacher(ARGS.work, DEV, quick=ARGS.scale < 0.5)
            else:
                evaluate.engine_reference(ARGS.out, ARGS.work, DEV, ARGS.fixtures)
        else:
            globals()[f"stage_{st}"]()


if __name__ == "__main__":
    main()
