"""Trains and exports the built-in demo models (models/demo/) from scratch.

    python training/train_all.py                 # every stage, on a CUDA GPU (~28 min on one H200; see models/demo/README.md)
    python training/train_all.py --stages vae,teacher --work W   # some stages; checkpoints in W

Stages (each reads and writes checkpoints in --work, so they can run in separate sessions):
  prepare  (needs sentencepiece; CPU) SentencePiece tokenizer on every caption, token table, module copies
  import_demo  (needs sentencepiece; CPU) the work files back from the shipped models/demo (--demo): spiece.model,
           tokens.pt, vae.pt, teacher.pt with the shipped T5 and the T2V student's DiT as a start for --resume_teacher
           (training/demo_files.py)
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
import json
import os
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import flow_weights  # noqa: E402
import recipe as R  # noqa: E402
import text_encoder  # noqa: E402
import world  # noqa: E402
from demo_files import stage_import_demo, turbo_layout  # noqa: E402,F401 (stage run by name)
from distill import stage_distill, stage_distill_i2v, stage_distill_t2v  # noqa: E402,F401 (stages, run by name)
from recipe import (DEFAULT_OUT, DEV, DIT, EMA, SLA, T5, VAE_DIM, apply_gradients, budget, build_latents,  # noqa: E402
                    build_token_table, caption_text, first_frame_clip, half_state, i2v_condition, load_into, load_t5, log,
                    progress, random_captions, save, text_split_of_table, tokens, warmup_cosine, wpath)


# ---- prepare ------------------------------------------------------------------------------------------------
def stage_prepare():
    """The tokenizer (spiece.model in --work; export copies it) on the grammar's train captions, then the token
    table. tokens() rebuilds the table from spiece.model where tokens.pt is missing, which needs sentencepiece
    too: carry tokens.pt (xz shrinks it to a fraction) to a machine without it."""
    import io
    import captions
    import palette
    import sentencepiece as spm
    train = captions.captions_for(palette.all_tuples(), R.ARGS.captions_per_tuple, "train", R.ARGS.caption_seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=model,
                                   vocab_size=R.ARGS.vocab, model_type="unigram", byte_fallback=True,
                                   character_coverage=1.0, normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, hard_vocab_limit=False, num_threads=os.cpu_count() or 1)
    tmp = wpath("spiece.model.tmp")
    with open(tmp, "wb") as f:
        f.write(model.getvalue())
    os.replace(tmp, wpath("spiece.model"))
    if os.path.exists(wpath("tokens.pt")):
        os.remove(wpath("tokens.pt"))
    build_token_table(train)
    common.copy_modules(wpath("wan_modules"))


# ---- VAE ----------------------------------------------------------------------------------------------------


def vae_clips(n, gen, step):
    """Rendered clips [n,3,T,H,W] and the shape's coverage; every fifth batch the I2V condition clip."""
    x, cover = world.render(world.sample_params(n, gen), DEV, with_cover=True)
    if step % 5 == 0:
        x, cover = first_frame_clip(x), first_frame_clip(cover)
    return x, cover


def recon_loss(rec, x, cover):
    """L1 + L2 with the shape's pixels weighted up: the shape covers ~5% of a frame, and unweighted losses
    let a small VAE settle on reproducing the background alone (the first demo VAE did)."""
    w = 1 + R.ARGS.object_weight * cover
    d = rec - x
    return (w * d.abs()).mean() + (w * d * d).mean()


def stage_vae():
    vae = common.make_vae(VAE_DIM).to(DEV)
    if R.ARGS.vae_init:   # e.g. the shipped models/demo/vae.pth (WanVAE_ keys, fp32): fine-tune instead of from scratch
        vae.load_state_dict(torch.load(R.ARGS.vae_init, map_location="cpu", weights_only=True))
        log(f"vae: starting from {R.ARGS.vae_init}")
    opt = torch.optim.AdamW(vae.parameters(), lr=R.ARGS.vae_lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(10)
    steps, t0, bs = int(budget("vae", R.ARGS.vae_steps)), time.time(), R.ARGS.vae_batch
    for step in range(steps):
        lr = warmup_cosine(R.ARGS.vae_lr, step, 200, step / steps)
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
        if time.time() - t0 > R.ARGS.vae_seconds:
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
    steps, t0 = int(budget("vae_decoder", R.ARGS.vae_decoder_steps)), time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = warmup_cosine(5e-4, step, 50, step / steps)
        x, cover = vae_clips(R.ARGS.vae_batch // 3, gen, step)
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            mu, _ = common.vae_encode(vae, x)
        with torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            rec = common.vae_decode(vae, mu.float()).float()
        loss = recon_loss(rec, x, cover)
        apply_gradients(opt, loss, params)
        if step % 100 == 0 or step == steps - 1:
            log(f"vae decoder {step}/{steps} loss {loss.item():.4f} {time.time() - t0:.0f}s")
        if time.time() - t0 > R.ARGS.vae_decoder_seconds:
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
    for _ in range(R.ARGS.stat_batches):
        x = world.render(world.sample_params(R.ARGS.stat_batch, gen), DEV)
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


# ---- flow-matching training (teacher, i2v) -----------------------------------------------------------------


def flow_train(name, net, t5, i2v, steps, seconds, lr, head=None):
    """head: the attribute head (teacher only); with it the T5 also learns the attribute loss, weight
    --text_aux_weight. Returns the EMA copies of net, t5 (not i2v) and head (when given)."""
    lat, cond, parts, cover = build_latents(R.ARGS.clips, seed=20)
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
        sel = torch.randint(lat.shape[0], (R.ARGS.batch,), device=DEV, generator=gen)
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
        loss = flow_weights.weighted_mse(v.float(), eps - x0, cover[sel].float() / 255, R.ARGS.flow_object_weight)
        flow = loss
        if aux is not None:
            loss = loss + R.ARGS.text_aux_weight * aux
        apply_gradients(opt, loss, params)
        ema.update()
        if step % 250 == 0 or step == steps - 1:
            log(f"{name} {step}/{steps} loss {flow.item():.4f}" + ("" if aux is None else f" attribute loss {aux.item():.4f}")
                + f" {time.time() - t0:.0f}s")
    return ema.copies


def stage_teacher():
    if R.ARGS.teacher_text_init and not os.path.exists(wpath("text.pt")):
        raise SystemExit(f"--teacher_text_init: {wpath('text.pt')} is missing (run --stages text first)")
    if R.ARGS.resume_teacher and R.ARGS.teacher_text_init:
        raise SystemExit("--resume_teacher and --teacher_text_init both name the T5's start; pass one")
    _, _, vocab = tokens()
    log(f"batched DiT forward = WanModel.forward (max abs diff {common.check_batched_forward(DIT, DEV):.1e})")
    net, t5 = common.make_dit(DIT, 16).to(DEV), common.make_t5({**T5, "vocab": vocab}).to(DEV)
    head = text_encoder.AttributeHead(T5["dim"]).to(DEV) if R.ARGS.text_aux_weight > 0 else None
    if R.ARGS.resume_teacher:   # a second session continuing the first one's (EMA) weights
        ck = torch.load(wpath("teacher.pt"), map_location="cpu")
        load_into(net, ck["dit"]), load_into(t5, ck["t5"])
        if head is not None and "text_head" in ck:
            load_into(head, ck["text_head"])
    if R.ARGS.teacher_text_init:
        ck = torch.load(wpath("text.pt"), map_location="cpu")
        load_into(t5, ck["t5"])
        if head is not None:
            load_into(head, ck["head"])
        log(f"teacher: T5{' and attribute head' if head is not None else ''} from text.pt")
    out = flow_train("teacher", net, t5, False, int(budget("teacher", R.ARGS.teacher_steps)), R.ARGS.teacher_seconds,
                     R.ARGS.teacher_lr, head)
    net_e, t5_e = out[:2]
    extra = {}
    if head is not None:   # training-only: export reads "t5" and "dit" alone
        extra["text_head"] = half_state(out[2])
        text_encoder.report(text_encoder.evaluate(t5_e, out[2], tokens(), text_split_of_table(), DEV), log,
                            wpath("teacher_text_eval.json"))
    save({"dit": half_state(net_e), "t5": half_state(t5_e), **extra}, "teacher.pt")


# ---- text encoder pretraining -----------------------------------------------------------------------------


def stage_text():
    tok, split = tokens(), text_split_of_table()
    t5 = common.make_t5({**T5, "vocab": tok[2]}).to(DEV)
    head = text_encoder.AttributeHead(T5["dim"]).to(DEV)
    lr, steps = R.ARGS.text_lr, int(budget("text", R.ARGS.text_steps))
    log(f"text: {len(split.train_rows())} train captions, batch {R.ARGS.text_batch}, {torch.get_num_threads()} threads")
    done = text_encoder.pretrain(t5, head, tok, split, steps, R.ARGS.text_seconds, R.ARGS.text_batch,
                                 lambda step, frac: warmup_cosine(lr, step, 100, frac), log, DEV)
    save({"t5": half_state(t5), "head": half_state(head), "steps": done}, "text.pt")
    # evaluated as the teacher will start: through the bf16 round trip of text.pt
    ck = torch.load(wpath("text.pt"), map_location="cpu")
    load_into(t5, ck["t5"]), load_into(head, ck["head"])
    text_encoder.report(text_encoder.evaluate(t5, head, tok, split, DEV), log, wpath("text_eval.json"))


def stage_i2v():
    t5, ck = load_t5()
    net = common.make_dit(DIT, 36)
    sd = {k: v.float() for k, v in ck["dit"].items()}
    w = sd["patch_embedding.weight"]
    sd["patch_embedding.weight"] = torch.cat([w, torch.zeros(w.shape[0], 20, *w.shape[2:])], 1)
    net.load_state_dict(sd)
    (net_e,) = flow_train("i2v", net.to(DEV), t5, True, int(budget("i2v", R.ARGS.i2v_steps)), R.ARGS.i2v_seconds, 2e-4)
    save({"dit": half_state(net_e)}, "i2v.pt")


# ---- distillation ---------------------------------------------------------------------------------------


# ---- export ---------------------------------------------------------------------------------------------
def stage_export():
    os.makedirs(R.ARGS.out, exist_ok=True)
    vck = torch.load(wpath("vae.pt"), map_location="cpu")
    t2v, i2v = torch.load(wpath("student_t2v.pt"), map_location="cpu")["dit"], torch.load(wpath("student_i2v.pt"), map_location="cpu")["dit"]
    torch.save(turbo_layout(t2v), os.path.join(R.ARGS.out, "dit_t2v.pth"))
    torch.save(turbo_layout(t2v, quantized=True), os.path.join(R.ARGS.out, "dit_t2v_quant.pth"))
    torch.save(turbo_layout(i2v), os.path.join(R.ARGS.out, "dit_i2v.pth"))
    torch.save({k: v.float() for k, v in vck["vae"].items()}, os.path.join(R.ARGS.out, "vae.pth"))
    shutil.copy(wpath("spiece.model"), os.path.join(R.ARGS.out, "spiece.model"))
    t5 = torch.load(wpath("teacher.pt"), map_location="cpu")["t5"]
    torch.save({k: v.to(torch.bfloat16) for k, v in t5.items()}, os.path.join(R.ARGS.out, "t5.pth"))
    # the sample image: first frame of an in-distribution clip
    from PIL import Image
    p = world.params_for("orange", "circle", "right", "navy", 1, torch.Generator().manual_seed(7))
    frame = ((world.render(p)[0, :, 0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    Image.fromarray(frame).save(os.path.join(R.ARGS.out, "sample_i2v.png"))
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
    with open(os.path.join(R.ARGS.out, "demo.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    for f in sorted(os.listdir(R.ARGS.out)):
        log(f"{f}: {os.path.getsize(os.path.join(R.ARGS.out, f)) / 1e6:.2f} MB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stages", default="prepare,vae,vae_decoder,teacher,i2v,distill,export,eval,engine_fixtures")
    ap.add_argument("--work", default=os.path.join(common.ROOT, "training", "work"))
    ap.add_argument("--out", default=DEFAULT_OUT, help="where export writes the model files")
    ap.add_argument("--demo", default=DEFAULT_OUT, help="the shipped models import_demo reads (models/demo)")
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
    ap.add_argument("--flow_object_weight", type=float, default=4.0, help="teacher and i2v: extra flow-loss weight "
                    "on the latent positions the shape covers (flow_weights.py; the shipped models used 4, the set "
                    "before them 0: the plain MSE)")
    ap.add_argument("--vae_decoder_steps", type=int, default=380)
    ap.add_argument("--vae_decoder_seconds", type=float, default=70)
    ap.add_argument("--sla_steps", type=int, default=5000)
    ap.add_argument("--proj_l_lr_mult", type=float, default=20.0)
    ap.add_argument("--clips", type=int, default=20000)
    ap.add_argument("--pool_clips", type=int, default=8192)
    ap.add_argument("--pool_batch", type=int, default=512)
    ap.add_argument("--ode_steps", type=int, default=16)
    ap.add_argument("--extra_noise_pairs", type=int, default=1, help="further pure-noise pairs per pool clip")
    ap.add_argument("--distill_object_weight", type=float, default=4.0, help="distill: extra loss weight on the latent "
                    "positions where the teacher's target shows the prompted colour (distill.target_cover; the "
                    "students shipped on 2026-12-07 were distilled with 0, the plain MSE)")
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
    R.ARGS = ap.parse_args()
    os.makedirs(R.ARGS.work, exist_ok=True)
    if os.path.isdir(wpath("wan_modules")) and "WAN_MODULES" not in os.environ:
        os.environ["WAN_MODULES"] = wpath("wan_modules")
    torch.manual_seed(0)
    if DEV == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    for st in R.ARGS.stages.split(","):
        log(f"== stage {st}")
        if st in ("eval", "eval_teacher", "engine_fixtures"):
            import evaluate
            if st == "eval":
                evaluate.run(R.ARGS.out, R.ARGS.work, DEV, quick=R.ARGS.scale < 0.5)
            elif st == "eval_teacher":
                evaluate.run_teacher(R.ARGS.work, DEV, quick=R.ARGS.scale < 0.5)
            else:
                evaluate.engine_reference(R.ARGS.out, R.ARGS.work, DEV, R.ARGS.fixtures)
        else:
            globals()[f"stage_{st}"]()


if __name__ == "__main__":
    main()
