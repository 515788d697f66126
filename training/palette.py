"""The synthetic world's names and colours, without torch (the caption grammar and its tests import this).

Invariants the renderer and the evaluation rely on:
- every background colour, plain or through the gradient ramp (×0.75 … ×1.25, clamped to [0, 1]), lies
  farther than the evaluation's colour radius (0.30 in [0, 1] RGB) from every object colour it is drawn
  with; the only pairing that breaks this is a white shape on a light background, so white shapes are
  drawn on the dark backgrounds only (OBJECT_BACKGROUNDS);
- the light backgrounds sit ≥ 0.25 apart from each other and from the dark ones, so the median colour
  of a video names its background.
"""
COLOURS = {  # object colours, RGB in [0, 1]
    "red": (0.90, 0.10, 0.10), "green": (0.10, 0.80, 0.20), "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.90, 0.10), "purple": (0.60, 0.20, 0.80), "orange": (1.00, 0.55, 0.05),
    "white": (0.95, 0.95, 0.95),
}
DARK_BACKGROUNDS = {
    "black": (0.05, 0.05, 0.05), "gray": (0.45, 0.45, 0.45), "navy": (0.08, 0.10, 0.35),
    "brown": (0.40, 0.25, 0.10), "dark green": (0.05, 0.30, 0.12),
}
LIGHT_BACKGROUNDS = {
    "white": (0.96, 0.96, 0.96), "light gray": (0.72, 0.72, 0.72), "beige": (0.93, 0.85, 0.66),
}
BACKGROUNDS = {**DARK_BACKGROUNDS, **LIGHT_BACKGROUNDS}   # index order: the dark five first, as before
SHAPES = ["circle", "square", "triangle", "star"]
MOTIONS = ["left", "right", "up", "down", "bouncing", "growing", "shrinking"]

COLOUR_NAMES, BG_NAMES = list(COLOURS), list(BACKGROUNDS)
N_DARK = len(DARK_BACKGROUNDS)


def backgrounds_for(colour):
    """The backgrounds a shape of this colour is drawn on (white shapes: the dark ones only)."""
    return list(DARK_BACKGROUNDS) if colour == "white" else BG_NAMES


# (colour, shape, motion) triples never shown in training: evaluation only.
HELD_OUT = [("red", "square", "right"), ("green", "triangle", "left"), ("blue", "circle", "up"),
            ("yellow", "star", "down"), ("purple", "square", "left"), ("orange", "circle", "down"),
            ("white", "star", "right"), ("red", "triangle", "up")]
# In-distribution triples the evaluation also measures (they are in training).
IN_DISTRIBUTION = [("red", "circle", "right"), ("yellow", "star", "up"), ("blue", "square", "left"),
                   ("green", "triangle", "up"), ("white", "circle", "left"), ("purple", "triangle", "right")]


def tuple_index(c, s, m, b):
    """Row block of the caption tables for (colour, shape, motion, background) indices (ints or tensors)."""
    return ((c * len(SHAPES) + s) * len(MOTIONS) + m) * len(BG_NAMES) + b


N_TUPLES = len(COLOURS) * len(SHAPES) * len(MOTIONS) * len(BACKGROUNDS)


def all_tuples():
    """Every (colour, shape, motion, background) by name, in tuple_index order."""
    return [(c, s, m, b) for c in COLOUR_NAMES for s in SHAPES for m in MOTIONS for b in BG_NAMES]
