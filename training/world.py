"""A synthetic video world for the built-in demo models.

One shape of a named colour moves (left/right/up/down), bounces, grows or shrinks over a plain or
gradient background of another named colour: 64×64 pixels, 17 frames at 16 fps, values in [-1, 1].
Captions are generated from the parameters, in English and (a quarter of templates) Chinese.
Everything is deterministic given a torch.Generator seed; rendering is vectorised over the batch and
runs on any torch device (2×2 supersampling for smooth edges).
"""
import math

import torch

SIZE, FRAMES, FPS = 64, 17, 16

COLOURS = {  # object colours, RGB in [0, 1]
    "red": (0.90, 0.10, 0.10), "green": (0.10, 0.80, 0.20), "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.90, 0.10), "purple": (0.60, 0.20, 0.80), "orange": (1.00, 0.55, 0.05),
    "white": (0.95, 0.95, 0.95),
}
BACKGROUNDS = {  # background colours (kept far from every object colour)
    "black": (0.05, 0.05, 0.05), "gray": (0.45, 0.45, 0.45), "navy": (0.08, 0.10, 0.35),
    "brown": (0.40, 0.25, 0.10), "dark green": (0.05, 0.30, 0.12),
}
SHAPES = ["circle", "square", "triangle", "star"]
MOTIONS = ["left", "right", "up", "down", "bouncing", "growing", "shrinking"]

ZH_COLOUR = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色", "orange": "橙色",
             "white": "白色"}
ZH_BG = {"black": "黑色", "gray": "灰色", "navy": "深蓝色", "brown": "棕色", "dark green": "深绿色"}
ZH_SHAPE = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "star": "星形"}
ZH_MOTION = {"left": "向左移动", "right": "向右移动", "up": "向上移动", "down": "向下移动", "bouncing": "上下弹跳",
             "growing": "变大", "shrinking": "变小"}
EN_MOTION_A = {"left": "moving left", "right": "moving right", "up": "moving up", "down": "moving down",
               "bouncing": "bouncing", "growing": "growing", "shrinking": "shrinking"}
EN_MOTION_B = {"left": "moves to the left", "right": "moves to the right", "up": "moves up", "down": "moves down",
               "bouncing": "bounces up and down", "growing": "grows bigger", "shrinking": "shrinks"}

# (colour, shape, motion) triples never shown in training: evaluation only.
HELD_OUT = [("red", "square", "right"), ("green", "triangle", "left"), ("blue", "circle", "up"),
            ("yellow", "star", "down"), ("purple", "square", "left"), ("orange", "circle", "down"),
            ("white", "star", "right"), ("red", "triangle", "up")]
N_TEMPLATES = 4  # templates 0-2 English, 3 Chinese: 25% of captions are Chinese


def caption(colour, shape, motion, bg, template):
    if template == 0:
        return f"a {colour} {shape} {EN_MOTION_A[motion]} on a {bg} background"
    if template == 1:
        return f"A {colour} {shape} {EN_MOTION_B[motion]}."
    if template == 2:
        return f"{colour} {shape}, {EN_MOTION_A[motion]}, {bg} background"
    return f"{ZH_COLOUR[colour]}的{ZH_SHAPE[shape]}{ZH_MOTION[motion]}，{ZH_BG[bg]}背景"


COLOUR_NAMES, BG_NAMES = list(COLOURS), list(BACKGROUNDS)


def all_captions():
    """Every caption, in index order: index = caption_index(c, s, m, b, t). The last entry is '' (dropout)."""
    out = []
    for c in COLOUR_NAMES:
        for s in SHAPES:
            for m in MOTIONS:
                for b in BG_NAMES:
                    for t in range(N_TEMPLATES):
                        out.append(caption(c, s, m, b, t))
    return out + [""]


def caption_index(c, s, m, b, t):
    return (((c * len(SHAPES) + s) * len(MOTIONS) + m) * len(BG_NAMES) + b) * N_TEMPLATES + t


EMPTY_CAPTION = len(COLOURS) * len(SHAPES) * len(MOTIONS) * len(BACKGROUNDS) * N_TEMPLATES

_HELD = {(COLOUR_NAMES.index(c), SHAPES.index(s), MOTIONS.index(m)) for c, s, m in HELD_OUT}
TRAIN_TRIPLES = [(c, s, m) for c in range(len(COLOURS)) for s in range(len(SHAPES)) for m in range(len(MOTIONS))
                 if (c, s, m) not in _HELD]


def sample_params(n, gen, triples=None):
    """Random clip parameters (a dict of CPU tensors). triples: list of (colour, shape, motion) indices to draw from."""
    triples = torch.tensor(triples if triples is not None else TRAIN_TRIPLES)
    pick = triples[torch.randint(len(triples), (n,), generator=gen)]
    u = lambda: torch.rand(n, generator=gen)  # noqa: E731
    return {
        "colour": pick[:, 0], "shape": pick[:, 1], "motion": pick[:, 2],
        "bg": torch.randint(len(BACKGROUNDS), (n,), generator=gen),
        "template": torch.randint(N_TEMPLATES, (n,), generator=gen),
        "gradient": u() < 0.5, "size": 7 + 4 * u(), "speed": 1.2 + 0.8 * u(),
        "pos_a": u(), "pos_b": u(), "phase": u(),
    }


def caption_indices(p):
    return caption_index(p["colour"], p["shape"], p["motion"], p["bg"], p["template"])


def trajectories(p):
    """-> centre x, centre y, size: each [n, FRAMES] in pixels."""
    n = p["size"].shape[0]
    t = torch.arange(FRAMES, dtype=torch.float32)[None]
    s = p["size"][:, None].expand(n, FRAMES).clone()
    m = p["motion"][:, None]
    travel = p["speed"][:, None] * (FRAMES - 1)
    margin = s[:, :1] + 2
    span = (SIZE - 2 * margin - travel).clamp(min=0)
    start = margin + p["pos_a"][:, None] * span          # along the motion axis
    across = margin + p["pos_b"][:, None] * (SIZE - 2 * margin)
    step = p["speed"][:, None] * t
    cx = across.expand(n, FRAMES).clone()
    cy = across.expand(n, FRAMES).clone()
    cx = torch.where(m == 0, SIZE - start - step, cx)    # left
    cx = torch.where(m == 1, start + step, cx)           # right
    cy = torch.where(m == 2, SIZE - start - step, cy)    # up
    cy = torch.where(m == 3, start + step, cy)           # down
    # bouncing: vertical |sin| bounce, two bounces over the clip
    floor = SIZE - margin
    height = 14 + 10 * p["pos_a"][:, None]
    bounce = floor - height * torch.abs(torch.sin(math.pi * (2 * t / (FRAMES - 1) + p["phase"][:, None])))
    cy = torch.where(m == 4, bounce, cy)
    centre = SIZE / 2 + (p["pos_a"][:, None] - 0.5) * 16
    grow = 5 + 8 * t / (FRAMES - 1)
    cx = torch.where(m >= 5, centre, cx)
    cy = torch.where(m >= 5, SIZE / 2 + (p["pos_b"][:, None] - 0.5) * 16, cy)
    s = torch.where(m == 5, grow, s)
    s = torch.where(m == 6, 13 - 8 * t / (FRAMES - 1), s)
    return cx, cy, s


def render(p, device="cpu", with_cover=False):
    """-> video [n, 3, FRAMES, SIZE, SIZE] in [-1, 1] (and, with_cover, the shape's pixel coverage
    [n, 1, FRAMES, SIZE, SIZE] in [0, 1])."""
    cx, cy, s = (x.to(device)[:, :, None, None] for x in trajectories(p))
    n = cx.shape[0]
    ss = 2 * SIZE
    coords = (torch.arange(ss, device=device, dtype=torch.float32) + 0.5) / 2
    X, Y = coords[None, None, None, :], coords[None, None, :, None]
    dx, dy = (X - cx) / s, (Y - cy) / s                  # in units of the size
    shape = p["shape"].to(device)[:, None, None, None]
    circle = dx * dx + dy * dy <= 1
    square = torch.maximum(dx.abs(), dy.abs()) <= 0.85
    triangle = (dy >= -1) & (dy <= 0.7) & (dx.abs() <= 0.95 * (dy + 1) / 1.7)
    rad, ang = torch.sqrt(dx * dx + dy * dy), torch.atan2(dy, dx)
    star = rad <= 0.68 + 0.32 * torch.cos(5 * (ang + math.pi / 2))
    inside = torch.where(shape == 0, circle, torch.where(shape == 1, square, torch.where(shape == 2, triangle, star)))
    cover = torch.nn.functional.avg_pool2d(inside.float().view(n * FRAMES, 1, ss, ss), 2).view(n, 1, FRAMES, SIZE, SIZE)
    col = torch.tensor(list(COLOURS.values()), device=device)[p["colour"].to(device)][:, :, None, None, None]
    bgc = torch.tensor(list(BACKGROUNDS.values()), device=device)[p["bg"].to(device)][:, :, None, None, None]
    ramp = 0.75 + 0.5 * (torch.arange(SIZE, device=device, dtype=torch.float32) / (SIZE - 1))[None, None, None, :, None]
    grad = p["gradient"].to(device)[:, None, None, None, None]
    bgimg = torch.where(grad, (bgc * ramp).clamp(0, 1), bgc).expand(n, 3, FRAMES, SIZE, SIZE)
    img = bgimg * (1 - cover) + col * cover
    return (img * 2 - 1, cover) if with_cover else img * 2 - 1


def params_for(colour, shape, motion, bg, n, gen, template=0):
    """Parameters for n clips of one named (colour, shape, motion, bg)."""
    p = sample_params(n, gen, [(COLOUR_NAMES.index(colour), SHAPES.index(shape), MOTIONS.index(motion))])
    p["bg"] = torch.full((n,), BG_NAMES.index(bg))
    p["template"] = torch.full((n,), template)
    return p
