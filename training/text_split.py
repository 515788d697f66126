"""Which rows of the token table the text encoder learns from, which it is measured on, and their labels.

The token table (recipe.build_token_table) holds, tuple-major in palette.all_tuples() order, K train-phrasing
captions per (colour, shape, motion, background) tuple, then H held-out-phrasing captions per tuple, then the
empty caption. The table covers every tuple, including held-out triples and white shapes on light backgrounds;
the text stage and the teacher's attribute loss may only see train-construction captions of tuples the world
draws in training (TableSplit.train_rows). Everything else is for measurement.

Pure Python (no torch): training/tests checks the split in CI.
"""
import random

import captions
import palette

ATTRIBUTES = ("colour", "shape", "motion", "background")
CLASSES = (palette.COLOUR_NAMES, palette.SHAPES, palette.MOTIONS, palette.BG_NAMES)
IGNORE = -1                      # label of an attribute the caption does not name (the background of "A red dot falls.")
_HELD_TRIPLES = {tuple(t) for t in palette.HELD_OUT}
TRAIN_SAMPLE = 4096              # train captions in evaluation set (d)


def drawn(t):
    """The world renders this tuple (white shapes only on the dark backgrounds)."""
    return t[3] in palette.backgrounds_for(t[0])


def held_out_triple(t):
    return tuple(t[:3]) in _HELD_TRIPLES


class TableSplit:
    """Row arithmetic of a token table made with per_train / per_held captions per tuple and a caption seed."""

    def __init__(self, per_train, per_held, seed):
        self.per = {"train": per_train, "held_out": per_held}
        self.offset = {"train": 0, "held_out": palette.N_TUPLES * per_train}
        self.empty = self.offset["held_out"] + palette.N_TUPLES * per_held
        self.seed = seed
        self.tuples = palette.all_tuples()

    def rows(self, phrasing, keep):
        """Every row of one phrasing whose tuple satisfies keep(tuple), ascending."""
        per, off = self.per[phrasing], self.offset[phrasing]
        return [off + i * per + k for i, t in enumerate(self.tuples) if keep(t) for k in range(per)]

    def locate(self, row):
        """row -> (phrasing, tuple, k); the empty caption -> (None, None, None)."""
        if row == self.empty:
            return None, None, None
        if not 0 <= row < self.empty:
            raise IndexError(f"row {row} is outside the token table (0 … {self.empty})")
        phrasing = "held_out" if row >= self.offset["held_out"] else "train"
        i, k = divmod(row - self.offset[phrasing], self.per[phrasing])
        return phrasing, self.tuples[i], k

    def train_rows(self):
        """What the text encoder may learn from: train constructions of drawn tuples of training triples."""
        return self.rows("train", lambda t: drawn(t) and not held_out_triple(t))

    def eval_sets(self):
        """name -> rows: (a) held-out constructions of training triples, (b) train constructions of held-out
        triples, (c) held-out constructions of held-out triples, (d) a seeded sample of the training rows."""
        rng = random.Random(f"text-eval|{self.seed}")
        train = self.train_rows()
        return {
            "held_out_phrasing": self.rows("held_out", lambda t: drawn(t) and not held_out_triple(t)),
            "held_out_triple": self.rows("train", lambda t: drawn(t) and held_out_triple(t)),
            "held_out_both": self.rows("held_out", lambda t: drawn(t) and held_out_triple(t)),
            "train_sample": sorted(rng.sample(train, min(TRAIN_SAMPLE, len(train)))),
        }

    def caption(self, row):
        """(text, construction) of a row, from the grammar, as the table was made ('' and None for the empty row)."""
        phrasing, t, k = self.locate(row)
        return ("", None) if t is None else captions.caption_k_named(t, k, phrasing, self.seed)

    def labels(self, row):
        """Class indices (colour, shape, motion, background) a row's caption names; IGNORE where it names none."""
        phrasing, t, _ = self.locate(row)
        if t is None:
            return (IGNORE,) * 4
        said = captions.says_background(self.caption(row)[1])
        return tuple(c.index(x) for c, x in zip(CLASSES[:3], t[:3])) + (CLASSES[3].index(t[3]) if said else IGNORE,)
