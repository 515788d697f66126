"""A synthetic video world for the built-in demo models.

One shape of a named colour moves (left/right/up/down), bounces, grows or shrinks over a plain or
gradient background of another named colour (five dark, three light): 64×64 pixels, 17 frames at 16 fps,
values in [-1, 1]. Captions for the parameters come from the grammar in captions.py.
Everything is deterministic given a torch.Generator seed; rendering is vectorised over the batch and
runs on any torch device (2×2 supersampling for smooth edges).
"""
import math

import torch

# The names and colours live in palette.py (torch-free, shared with the caption grammar).
from palette import (BACKGROUNDS, BG_NAMES, COLOUR_NAMES, COLOURS, HELD_OUT, IN_DISTRIBUTION, MOTIONS,  # noqa: F401
                     N_DARK, SHAPES, backgrounds_for, tuple_index)

SIZE, FRAMES, FPS = 64, 17, 16

_HELD = {(COLOUR_NAMES.index(c), SHAPES.index(s), MOTIONS.index(m)) for c, s, m in HELD_OUT}
TRAIN_TRIPLES = [(c, s, m) for c in range(len(COLOURS)) for s in range(len(SHAPES)) for m in range(len(MOTIONS))
                 if (c, s, m) not in _HELD]
WHITE = COLOUR_NAMES.index("white")


def sample_params(n, gen, triples=None):
    """Random clip parameters (a dict of CPU tensors). triples: list of (colour, shape, motion) indices to draw from."""
    triples = torch.tensor(triples if triples is not None else TRAIN_TRIPLES)
    pick = triples[torch.randint(len(triples), (n,), generator=gen)]
    u = lambda: torch.rand(n, generator=gen)  # noqa: E731
    return {
        "colour": pick[:, 0], "shape": pick[:, 1], "motion": pick[:, 2],
        # white shapes on the dark backgrounds only (palette.py: on a light one the colour check is ambiguous)
        "bg": torch.where(pick[:, 0] == WHITE, torch.randint(N_DARK, (n,), generator=gen),
                          torch.randint(len(BACKGROUNDS), (n,), generator=gen)),
        "gradient": u() < 0.5, "size": 7 + 4 * u(), "speed": 1.2 + 0.8 * u(),
        "pos_a": u(), "pos_b": u(), "phase": u(),
    }


def tuple_indices(p):
    """Row block of the caption tables (palette.tuple_index) for each clip."""
    return tuple_index(p["colour"], p["shape"], p["motion"], p["bg"])


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


def params_for(colour, shape, motion, bg, n, gen):
    """Parameters for n clips of one named (colour, shape, motion, bg)."""
    p = sample_params(n, gen, [(COLOUR_NAMES.index(colour), SHAPES.index(shape), MOTIONS.index(motion))])
    p["bg"] = torch.full((n,), BG_NAMES.index(bg))
    return p
