"""training/evaluate.py's video checks on drawn videos; skipped where torch is not installed (CI)."""
import os
import sys

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import evaluate  # noqa: E402
import world  # noqa: E402


def video_with_square(colour, frames_on, x0=20, step=2):
    """[3, 17, 64, 64] in [0, 1]: a dark gray background and a 6×6 square of `colour` moving right, drawn
    in the frames listed."""
    v = torch.full((3, 17, 64, 64), 0.2)
    c = torch.tensor(world.COLOURS[colour]).view(3, 1, 1)
    for t in frames_on:
        x = x0 + step * t
        v[:, t, 30:36, x:x + 6] = c
    return v


def test_a_shape_on_screen_throughout_neither_fades_nor_misses():
    v = video_with_square("red", range(17))
    assert not evaluate.fades(v, "red")
    present, moves, d = evaluate.check(v, "red", "right")
    assert present and moves and d[0] == pytest.approx(28.0)


def test_a_shape_that_leaves_the_second_half_fades():
    v = video_with_square("red", range(9))
    assert evaluate.fades(v, "red")
    present, _, _ = evaluate.check(v, "red", "right")
    assert not present                      # on screen in 9 of 17 frames, under 80 %


def test_a_shape_of_another_colour_neither_fades_nor_is_present():
    v = video_with_square("blue", range(17))
    assert not evaluate.fades(v, "red")
    assert not evaluate.check(v, "red", "right")[0]


def test_summarise_reports_the_fade_rate():
    vids = [video_with_square("red", range(17)), video_with_square("red", range(9))]
    cases = [("red", "square", "right", "gray", 0)] * 2
    ok = [evaluate.check(v, "red", "right") for v in vids]
    res = evaluate.summarise(ok, vids, cases)
    # the faded video has no mask in its last frames, so no end position: it does not move as prompted either
    assert res["fades"] == 0.5 and res["colour_present"] == 0.5 and res["moves"] == 0.5
