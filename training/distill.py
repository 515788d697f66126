"""The distillation stages of train_all.py: students for the rCM sampler (x − r·v_student(x, r) ≈ the teacher's
CFG ODE solution from (x, r)), then fine-tuned with SLA and dense self-attention alternately."""
import time

import torch

import common
import evaluate
import flow_weights
import recipe as R
import world
from recipe import (DEV, DIT, SLA, apply_gradients, budget, build_latents, cfg_velocity, empty_rows, half_state,
                    i2v_condition, load_into, load_t5, load_vae, log, progress, random_captions, save, text_batch, tokens,
                    warmup_cosine, wpath)

@torch.no_grad()
def target_cover(vae, mean, std, target, colours):
    """Where a distillation target shows the prompted colour, on the latent grid (u8, 0..255): the
    target decoded as evaluate.py decodes videos, evaluate.py's colour mask of each clip's colour
    (`colours`: palette indices), put on the latent grid as the teacher's --flow_object_weight covers
    are (flow_weights.latent_cover). A target that lost the colour has no cover."""
    video = evaluate.decode_videos(vae, mean, std, target.float())                # [b, 3, T, H, W]
    rgb = torch.tensor(list(world.COLOURS.values()), device=video.device)[colours][:, :, None, None, None]
    mask = evaluate.colour_mask(video, rgb).unsqueeze(1).float()                  # [b, 1, T, H, W]
    return (flow_weights.latent_cover(mask) * 255).round().to(torch.uint8)


@torch.no_grad()
def build_pool(teacher, t5, i2v, n, seed, sigmas):
    """Distillation pairs (x, r, target, caption, condition): x at the rCM schedule points."""
    _, cond_all, parts_all, _ = build_latents(n, seed)
    tok = tokens()
    gen = torch.Generator(device=DEV).manual_seed(seed)
    vae, mean, std, _ = load_vae()
    rows = {k: [] for k in ("x", "r", "t", "cap", "cond", "cover")}
    sched = common.rcm_rs(4, 80)[1:4]
    for i in range(0, n, R.ARGS.pool_batch):
        parts = parts_all[i:i + R.ARGS.pool_batch]
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
        x0 = common.ode_solve(vfn, x, r0, 0.0, R.ARGS.ode_steps)
        entries = [(x, r0, x0)]
        for _ in range(R.ARGS.extra_noise_pairs):   # more pure-noise inputs: the whole task of the 1-step student
            xe = r0.view(-1, 1, 1, 1, 1) * torch.randn(x.shape, device=DEV, generator=gen)
            entries.append((xe, r0, common.ode_solve(vfn, xe, r0, 0.0, R.ARGS.ode_steps)))
        levels = [torch.full((b,), s, device=DEV) for s in sched] + [0.05 + 0.9 * torch.rand(b, device=DEV, generator=gen)]
        for r in levels:
            xr = (1 - r.view(-1, 1, 1, 1, 1)) * x0 + r.view(-1, 1, 1, 1, 1) * torch.randn(x0.shape, device=DEV, generator=gen)
            entries.append((xr, r, common.ode_solve(vfn, xr, r, 0.0, max(8, int(R.ARGS.ode_steps * r.max())))))
        for xe, re, te in entries:
            rows["x"].append(xe.half())
            rows["r"].append(re)
            rows["t"].append(te.half())
            rows["cap"].append(cap)
            rows["cond"].append(cond_all[i:i + b] if i2v else torch.zeros(b, 1, device=DEV))
            rows["cover"].append(target_cover(vae, mean, std, te, parts[:, 0]) if R.ARGS.distill_object_weight > 0
                                 else torch.zeros(b, 1, *te.shape[2:], dtype=torch.uint8, device=DEV))
    pool = {k: torch.cat(v) for k, v in rows.items()}
    log(f"pool: {pool['r'].shape[0]} pairs; the prompted colour covers {pool['cover'].float().mean().item() / 2.55:.1f}% "
        f"of the targets' latent positions")
    return pool


def student_loss(net, t5, tok, pool, sel, i2v):
    x, r, tgt = pool["x"][sel].float(), pool["r"][sel], pool["t"][sel].float()
    with torch.no_grad():
        ctx = text_batch(t5, tok, pool["cap"][sel])
    with torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
        v = common.dit(net, x, r, ctx, i2v_condition(pool["cond"][sel]) if i2v else None)
    x0 = x - r.view(-1, 1, 1, 1, 1) * v.float()
    # The positions where the target shows the prompted colour weigh --distill_object_weight more (as the
    # teacher's flow loss weighs the shape): the students lost the colour their targets had.
    return flow_weights.weighted_mse(x0, tgt, pool["cover"][sel].float() / 255, R.ARGS.distill_object_weight)


def train_student(name, net, t5, pool, i2v, steps, seconds, lr, sla_mix=False):
    tok = tokens()
    params = [p for p in net.parameters() if p.requires_grad]
    # proj_l starts at zero in the SLA stage: it gets a larger step so the linear branch actually learns
    proj = [p for n, p in net.named_parameters() if "proj_l" in n] if sla_mix else []
    groups = [{"params": [p for p in params if all(p is not q for q in proj)], "mult": 1.0}]
    if proj:
        groups.append({"params": proj, "mult": R.ARGS.proj_l_lr_mult})
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
        sel = torch.randint(pool["r"].shape[0], (R.ARGS.batch,), device=DEV, generator=gen)
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
        pool = build_pool(teacher, t5, i2v, R.ARGS.pool_clips, 50 + i2v, sig)
        student = load_into(common.make_dit(DIT, 36 if i2v else 16), sd).to(DEV).train()
        steps = int(budget("distill", R.ARGS.distill_steps))
        train_student(f"distill-{name}", student, t5, pool, i2v, steps, R.ARGS.distill_seconds, 1e-4)
        common.ATTN.update(mode="sla", **SLA)
        train_student(f"sla-{name}", student, t5, pool, i2v, int(budget("sla", R.ARGS.sla_steps)), R.ARGS.sla_seconds, 5e-5,
                      sla_mix=True)
        save({"dit": half_state(student)}, f"student_{name}.pt")
        del pool
