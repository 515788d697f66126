"""What the stages of train_all.py share: the demo models' sizes, the options (ARGS, set by train_all.main),
the work folder, the caption/token table, the clips' latents and the training-loop helpers. evaluate.py and
distill.py use it too."""
import copy
import math
import os
import time

import torch

import common
import flow_weights
import text_encoder
import text_split
import world

DIT = {"dim": 256, "ffn_dim": 512, "num_heads": 2, "num_layers": 4, "text_dim": 128, "freq_dim": 256}
T5 = {"dim": 128, "ffn": 256, "heads": 4, "layers": 2}
VAE_DIM = 8
SLA = {"topk": 0.5, "blkq": 16, "blkk": 16}
CFG_SCALE = 3.0
DEFAULT_OUT = os.path.join(common.ROOT, "models", "demo")

DEV = "cuda" if torch.cuda.is_available() else "cpu"
# The parsed options of train_all.py (set by its main before any stage runs).
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


# ---- captions and tokens ---------------------------------------------------------------------------------
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


def text_split_of_table():
    t = caption_table()
    split = text_split.TableSplit(t["per_tuple"]["train"], t["per_tuple"]["held_out"], t["caption_seed"])
    text_encoder.check_table(split, t)
    return split


# ---- training loops --------------------------------------------------------------------------------------
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


def progress(step, steps, t0, seconds):
    """Fraction of the stage done: by steps or by its time cap, whichever is further along, so the cosine
    schedule reaches its end when the time cap stops a stage early."""
    return max(step / steps, (time.time() - t0) / seconds)


class EMA:
    def __init__(self, modules, decay):
        self.decay, self.src = decay, modules
        self.copies = [copy.deepcopy(m).eval() for m in modules]

    @torch.no_grad()
    def update(self):
        for c, m in zip(self.copies, self.src):
            torch._foreach_lerp_(list(c.parameters()), list(m.parameters()), 1 - self.decay)


# ---- models and data -------------------------------------------------------------------------------------
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


def load_t5():
    ck = torch.load(wpath("teacher.pt"), map_location="cpu")
    t5 = load_into(common.make_t5({**T5, "vocab": tokens()[2]}), ck["t5"]).to(DEV).eval()
    for p in t5.parameters():
        p.requires_grad_(False)
    return t5, ck


def cfg_velocity(net, ctx_c, ctx_u, y):
    def vfn(x, r):
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=DEV == "cuda"):
            xx = torch.cat([x, x])
            v = common.dit(net, xx, torch.cat([r, r]), ctx_c + ctx_u, None if y is None else torch.cat([y, y]))
        vc, vu = v.float().chunk(2)
        return vu + CFG_SCALE * (vc - vu)
    return vfn
