"""Semantic checks of the exported demo models, through a transcription of the engine's rCM loop.

Reads models/demo/*.pth as the engine does (TurboDiffusion layout: the 2-D patch weight is reshaped back;
the quantized file is dequantized W = int8·scale), generates 64×64×17 videos and measures (the same
definitions are in models/demo/README.md for the Swift CI):

  colour mask   pixels (in [0,1] RGB) within Euclidean distance 0.30 of the prompted colour (world.COLOURS)
  present       the mask has ≥ 12 pixels in ≥ 80% of the 17 frames
  moves         centroid of the mask, mean over frames 0–2 vs frames 14–16: displacement along the prompted
                axis ≥ 8 px in the prompted sign (image y grows downwards) and larger than |perpendicular|
  pass          present and moves
  fades         the mask has ≥ 12 pixels in each of frames 0–2 and in none of frames 14–16
  background    the per-channel median colour over all frames and pixels is nearer (Euclidean, [0,1] RGB) to the
                prompted background colour than to any other of world.BACKGROUNDS
  i2v first     mean |frame0 − input image| in [0,1] RGB units
  student-vs-teacher  RMS over pixels in [0,1] between the student's and the teacher's (32-step CFG ODE,
                from the same r0·ε0) decoded videos

Prompt sets (SETS): held-out (colour, shape, motion) triples and in-distribution triples, each with captions of
the train phrasings and of the held-out phrasings (captions.py); backgrounds cycle through all those the colour
is drawn on. TARGETS are the acceptance bounds of the held-out-triple × held-out-phrasing set; eval.json says
whether each is met.
"""
import json
import os

import torch

import common
import recipe
import world

THRESH = {"colour_dist": 0.30, "min_pixels": 12, "present_frac": 0.8, "min_move_px": 8.0}
AXIS = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}


def colour_mask(video, rgb):
    """video [..., 3, T, H, W] in [0,1], rgb broadcastable to it ([..., 3, 1, 1, 1]) -> the colour mask
    [..., T, H, W]: pixels within THRESH["colour_dist"] of rgb."""
    return ((video - rgb) ** 2).sum(-4).sqrt() < THRESH["colour_dist"]


def colour_track(video, colour):
    """video: [3, T, H, W] in [0,1] -> (present: bool, centroids [T, 2] (x, y), counts [T])."""
    c = torch.tensor(world.COLOURS[colour], device=video.device).view(3, 1, 1, 1)
    mask = colour_mask(video, c)                                               # [T, H, W]
    cnt = mask.flatten(1).sum(1).float()
    g = torch.arange(video.shape[-1], device=video.device, dtype=torch.float32)
    cx = (mask.float().sum(1) * g).sum(1) / cnt.clamp(min=1)
    cy = (mask.float().sum(2) * g).sum(1) / cnt.clamp(min=1)
    present = (cnt >= THRESH["min_pixels"]).float().mean().item() >= THRESH["present_frac"]
    return present, torch.stack([cx, cy], 1), cnt


def check(video, colour, motion):
    present, cen, _ = colour_track(video, colour)
    d = cen[-3:].mean(0) - cen[:3].mean(0)
    axis, sign = AXIS[motion]
    moves = bool(d[axis] * sign >= THRESH["min_move_px"] and abs(d[axis]) > abs(d[1 - axis]))
    return present, moves, d.tolist()


def fades(video, colour):
    """The shape of the prompted colour is on screen (≥ min_pixels of the colour mask) in each of the first
    three frames and in none of the last three: the failure the shipped students show most (models/demo/README.md)."""
    _, _, cnt = colour_track(video, colour)
    return bool((cnt[:3] >= THRESH["min_pixels"]).all() and (cnt[-3:] < THRESH["min_pixels"]).all())


def background_ok(video, bg):
    """video: [3, T, H, W] in [0,1]: is the median colour nearest to the named background colour?"""
    med = video.flatten(1).median(dim=1).values.cpu()
    dist = {n: ((med - torch.tensor(c)) ** 2).sum().sqrt().item() for n, c in world.BACKGROUNDS.items()}
    return min(dist, key=dist.get) == bg


def load_teacher(work, dev):
    """The T2V teacher DiT from the training checkpoints (it is not exported)."""
    sd = torch.load(os.path.join(work, "teacher.pt"), map_location="cpu")["dit"]
    return recipe.load_into(common.make_dit(recipe.DIT, 16), sd).to(dev).eval()


def teacher_ode_latent(net, t5, tok, cap, ctx, noise, sigma, y=None):
    """The teacher's video latent: 32-step Euler ODE with CFG 3 (against the empty caption) from r0·noise."""
    ctx_u = recipe.text_batch(t5, tok, recipe.empty_rows(cap))
    r0 = torch.full((cap.shape[0],), common.rcm_rs(1, sigma)[0], device=noise.device)
    return common.ode_solve(recipe.cfg_velocity(net, ctx, ctx_u, y), r0.view(-1, 1, 1, 1, 1) * noise, r0, 0.0, 32)


def load_exported(out_dir, dev):
    meta = json.load(open(os.path.join(out_dir, "demo.json")))
    cfg = meta["dit"]

    def dit(name, in_dim):
        sd = torch.load(os.path.join(out_dir, name), map_location="cpu")
        for k in [k for k in sd if k.endswith(".int8_weight")]:
            q, s = sd.pop(k).float(), sd.pop(k.replace("int8_weight", "scale"))
            full = s.repeat_interleave(128, 0).repeat_interleave(128, 1)[:q.shape[0], :q.shape[1]]
            sd[k.replace("int8_weight", "weight")] = q * full
        sd["patch_embedding.weight"] = sd["patch_embedding.weight"].reshape(cfg["dim"], in_dim, 1, 2, 2)
        net = common.make_dit(cfg, in_dim)
        net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
        return net.to(dev).eval()

    t5 = common.make_t5(meta["t5"])
    t5.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(out_dir, "t5.pth"), map_location="cpu").items()})
    vae = common.make_vae(meta["vae"]["dim"])
    vae.load_state_dict(torch.load(os.path.join(out_dir, "vae.pth"), map_location="cpu"))
    mean = torch.tensor(meta["vae"]["latent_mean"], device=dev).view(1, 16, 1, 1, 1)
    std = torch.tensor(meta["vae"]["latent_std"], device=dev).view(1, 16, 1, 1, 1)
    return meta, dit, t5.to(dev).eval(), vae.to(dev).eval(), mean, std


SETS = {  # name: (triples, phrasing)
    "held_out_phrasing": (world.HELD_OUT, "held_out"),   # the headline: held-out triples × held-out phrasings
    "held_out_triples": (world.HELD_OUT, "train"),
    "in_distribution": (world.IN_DISTRIBUTION, "train"),
    "in_distribution_held_out_phrasing": (world.IN_DISTRIBUTION, "held_out"),
}
TARGETS = [  # (result, metric, bound): a prompt's colour on screen in ≥ 90% of the videos, direction right in ≥ 75%
    ("t2v/held_out_phrasing/student_1step", "colour_present", 0.90),
    ("t2v/held_out_phrasing/student_2step", "colour_present", 0.90),
    ("t2v/held_out_phrasing/student_4step", "colour_present", 0.90),
    ("t2v/held_out_phrasing/student_4step", "moves", 0.75),
]


def decode_videos(vae, mean, std, z):
    """Normalised latents [N, 16, 5, 8, 8] → videos [N, 3, 17, 64, 64] in [0, 1] (z·std + mean, clamped)."""
    return ((common.vae_decode(vae, z * std + mean).clamp(-1, 1) + 1) / 2).float()


def eval_cases(triples, phrasing, seeds):
    """[(colour, shape, motion, background, caption row)] for each triple × seed index k: the background
    steps through those the colour is drawn on (3 is prime to 5 and 8, so k = 0…7 meets every one), the caption
    is the tuple's k-th of the phrasing."""
    out = []
    for i, (c, s, m) in enumerate(triples):
        bgs = world.backgrounds_for(c)
        for k in range(seeds):
            b = bgs[(i + 3 * k) % len(bgs)]
            t = world.tuple_index(world.COLOUR_NAMES.index(c), world.SHAPES.index(s), world.MOTIONS.index(m),
                                  world.BG_NAMES.index(b))
            out.append((c, s, m, b, int(recipe.caption_rows(t, phrasing, k))))
    return out


def summarise(ok, vids, cases):
    """Metrics of a run: ok = [check(...)] per video."""
    n = len(ok)
    per_colour = {}
    for (present, _, _), (c, *_rest) in zip(ok, cases):
        per_colour.setdefault(c, []).append(present)
    return {"pass_rate": sum(p and mv for p, mv, _ in ok) / n, "colour_present": sum(p for p, _, _ in ok) / n,
            "colour_present_worst_colour": min(sum(v) / len(v) for v in per_colour.values()),
            "moves": sum(mv for _, mv, _ in ok) / n,
            "fades": sum(fades(v, case[0]) for v, case in zip(vids, cases)) / n,
            "background": sum(background_ok(v, case[3]) for v, case in zip(vids, cases)) / n}


@torch.no_grad()
def run(out_dir, work, dev, quick=False):
    meta, dit, t5, vae, mean, std = load_exported(out_dir, dev)
    tok = recipe.tokens()
    nets = {"t2v": dit("dit_t2v.pth", 16), "t2v_quant": dit("dit_t2v_quant.pth", 16), "i2v": dit("dit_i2v.pth", 36)}
    teacher = load_teacher(work, dev)
    seeds = 2 if quick else 8
    results = {}
    autocast = torch.autocast("cuda", torch.bfloat16, enabled=dev == "cuda")

    def gen_videos(net, cap, steps, seed, cond=None, sigma=80, attn="dense", teacher_ode=False):
        common.ATTN.update(mode=attn, topk=meta["sla_topk"], blkq=meta["sla_block_q"], blkk=meta["sla_block_k"])
        g = torch.Generator(device=dev).manual_seed(seed)
        ctx = recipe.text_batch(t5, tok, cap)
        y = None if cond is None else recipe.i2v_condition(cond)
        noise = torch.randn(cap.shape[0], 16, 5, 8, 8, device=dev, generator=g)
        if teacher_ode:
            z = teacher_ode_latent(net, t5, tok, cap, ctx, noise, sigma, y)
        else:
            def vfn(x, r):
                with autocast:
                    return common.dit(net, x, r, ctx, y).float()
            z = common.rcm_sample(vfn, noise, steps, sigma, lambda: torch.randn(noise.shape, device=dev, generator=g))
        common.ATTN["mode"] = "dense"
        return decode_videos(vae, mean, std, z)

    examples = {}
    for set_name, (triples, phrasing) in SETS.items():
        cases = eval_cases(triples, phrasing, seeds)
        examples[set_name] = [recipe.caption_text(row) for *_, row in cases[::seeds]]
        cap = torch.tensor([row for *_, row in cases], device=dev)
        teacher_v = gen_videos(teacher, cap, 0, 1, teacher_ode=True)
        runs = {"teacher_ode32": teacher_v}
        for steps in (1, 2, 4):
            runs[f"student_{steps}step"] = gen_videos(nets["t2v"], cap, steps, 1)
        runs["student_4step_sla"] = gen_videos(nets["t2v"], cap, 4, 1, attn="sla")
        runs["quant_4step"] = gen_videos(nets["t2v_quant"], cap, 4, 1)
        for name, vids in runs.items():
            res = summarise([check(v, c, m) for v, (c, s, m, b, _) in zip(vids, cases)], vids, cases)
            if name != "teacher_ode32":
                res["rms_vs_teacher"] = (vids - teacher_v).pow(2).mean().sqrt().item()
            results[f"t2v/{set_name}/{name}"] = res
            print(f"t2v/{set_name}/{name}: {res}", flush=True)
        if set_name == "held_out_phrasing":
            save_strip(runs["student_4step"][:4 * seeds:seeds], os.path.join(work, "eval_t2v.png"))

    # I2V: the first frame of a clip of the world, its caption
    for set_name, (triples, phrasing) in list(SETS.items())[:3]:
        gen = torch.Generator().manual_seed(5)
        cases = eval_cases(triples, phrasing, seeds)
        ps = [world.params_for(c, s, m, b, 1, gen) for c, s, m, b, _ in cases]
        p = {k: torch.cat([q[k] for q in ps]) for k in ps[0]}
        clips = world.render(p, dev)
        first = recipe.first_frame_clip(clips)
        cond = (common.vae_encode(vae, first)[0] - mean) / std
        cap = torch.tensor([row for *_, row in cases], device=dev)
        for steps in (1, 2, 4):
            for attn in (["dense", "sla"] if steps == 4 else ["dense"]):
                vids = gen_videos(nets["i2v"], cap, steps, 2, cond=cond, sigma=200, attn=attn)
                img = (clips[:, :, 0] + 1) / 2
                res = summarise([check(v, c, m) for v, (c, s, m, b, _) in zip(vids, cases)], vids, cases)
                res["first_frame_l1"] = (vids[:, :, 0] - img).abs().mean().item()
                results[f"i2v/{set_name}/{steps}step_{attn}"] = res
                print(f"i2v/{set_name}/{steps}step_{attn}: {res}", flush=True)
    targets = [{"result": r, "metric": k, "bound": bound, "value": results[r][k], "met": results[r][k] >= bound}
               for r, k, bound in TARGETS]
    for t in targets:
        print(f"target {t['result']} {t['metric']} ≥ {t['bound']}: {t['value']:.3f} {'met' if t['met'] else 'MISSED'}")
    with open(os.path.join(work, "eval.json"), "w") as f:
        json.dump({"thresholds": THRESH, "seeds_per_prompt": seeds, "targets": targets, "examples": examples,
                   "results": results}, f, indent=1, ensure_ascii=False)
    return results


@torch.no_grad()
def run_teacher(work, dev, quick=False):
    """The teacher alone (32-step CFG ODE) on every prompt set, from the training checkpoints (teacher.pt, vae.pt):
    the first look after the teacher stage, before any distillation time is spent. Writes teacher_eval.json."""
    vae, mean, std, _ = recipe.load_vae()
    t5, _ = recipe.load_t5()
    teacher = load_teacher(work, dev)
    tok = recipe.tokens()
    seeds = 2 if quick else 8
    results = {}
    for set_name, (triples, phrasing) in SETS.items():
        cases = eval_cases(triples, phrasing, seeds)
        cap = torch.tensor([row for *_, row in cases], device=dev)
        noise = torch.randn(cap.shape[0], 16, 5, 8, 8, device=dev, generator=torch.Generator(device=dev).manual_seed(1))
        z = teacher_ode_latent(teacher, t5, tok, cap, recipe.text_batch(t5, tok, cap), noise, 80)
        vids = decode_videos(vae, mean, std, z)
        res = summarise([check(v, c, m) for v, (c, s, m, b, _) in zip(vids, cases)], vids, cases)
        results[f"t2v/{set_name}/teacher_ode32"] = res
        print(f"t2v/{set_name}/teacher_ode32: {res}", flush=True)
    with open(os.path.join(work, "teacher_eval.json"), "w") as f:
        json.dump({"thresholds": THRESH, "seeds_per_prompt": seeds, "results": results}, f, indent=1)
    return results


def save_strip(vids, path):
    from PIL import Image
    v = vids[:, :, ::4].permute(0, 3, 2, 4, 1)          # [n, H, 5, W, 3]
    n, h, f, w, _ = v.shape
    Image.fromarray((v.reshape(n * h, f * w, 3) * 255).round().byte().cpu().numpy()).save(path)


# ---- fixtures for the Swift CI: the teacher's videos from the engine's own noise ------------------------------
ENGINE_CASES = [  # (colour, shape, motion, background, phrasing, caption k, seed): held-out triples
    ("red", "square", "right", "black", "train", 0, 0), ("blue", "circle", "up", "white", "held_out", 0, 1),
    ("yellow", "star", "down", "navy", "held_out", 1, 2), ("white", "star", "right", "brown", "train", 1, 3),
]


@torch.no_grad()
def engine_reference(out_dir, work, dev, fixture_dir):
    """For each ENGINE_CASES prompt and `--seed`, starts from the ε0 the engine draws (training/philox.py) and
    writes the teacher's 32-step CFG ODE video as a 17-frame PNG strip, plus the students' videos from the same
    Philox streams, so that the engine's output can be held to a stated distance from the teacher in CI."""
    import numpy as np
    from PIL import Image
    import philox
    meta, dit, t5, vae, mean, std = load_exported(out_dir, dev)
    tok = recipe.tokens()
    student = dit("dit_t2v.pth", 16)
    teacher = load_teacher(work, dev)
    os.makedirs(fixture_dir, exist_ok=True)
    shape, count = (1, 16, 5, 8, 8), 16 * 5 * 8 * 8

    def to_u8(z):   # the engine's conversion: ⌊((clamp(x) + 1) / 2)·255 + 0.5⌋
        x = common.vae_decode(vae, z * std + mean).clamp(-1, 1)[0].float()
        return ((x + 1) / 2 * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8).cpu()   # [3, T, H, W]

    cases = []
    for i, (c, s, m, b, phrasing, k, seed) in enumerate(ENGINE_CASES):
        t = world.tuple_index(world.COLOUR_NAMES.index(c), world.SHAPES.index(s), world.MOTIONS.index(m),
                              world.BG_NAMES.index(b))
        cap = torch.tensor([int(recipe.caption_rows(t, phrasing, k))], device=dev)
        ctx = recipe.text_batch(t5, tok, cap)
        eps0 = torch.from_numpy(philox.normals(seed, 0, count)).view(shape).to(dev)
        teacher_u8 = to_u8(teacher_ode_latent(teacher, t5, tok, cap, ctx, eps0, 80))
        strip = teacher_u8.permute(2, 1, 3, 0).reshape(64, -1, 3).numpy()           # [H, T·W, 3]
        name = f"teacher_{i}.png"
        Image.fromarray(np.ascontiguousarray(strip)).save(os.path.join(fixture_dir, name))
        rms = {}
        for steps in (1, 2, 4):
            noises = iter([torch.from_numpy(philox.normals(seed, k + 1, count)).view(shape).to(dev) for k in range(steps)])
            z = common.rcm_sample(lambda x, r: common.dit(student, x, r, ctx).float(), eps0, steps, 80, lambda: next(noises))
            u8 = to_u8(z)
            rms[str(steps)] = round(((u8.float() - teacher_u8.float()) / 255).pow(2).mean().sqrt().item(), 4)
            ok = check(u8.float().to(dev) / 255, c, m)
            rms[f"{steps}_pass"] = bool(ok[0] and ok[1])
        cases.append({"prompt": recipe.caption_text(cap[0]), "phrasing": phrasing, "seed": seed, "colour": c, "motion": m,
                      "teacher": name, "student_rms_vs_teacher": rms})
        print(f"engine case {i}: {cases[-1]}", flush=True)
    with open(os.path.join(fixture_dir, "cases.json"), "w") as f:
        json.dump({"about": "teacher (32-step Euler ODE, CFG 3) videos from the engine's Philox noise for --seed; "
                            "made by training/train_all.py --stages engine_fixtures", "cases": cases}, f, indent=1,
                  ensure_ascii=False)
