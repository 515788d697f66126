"""The text encoder's caption split (training/text_split.py), without torch:

    python3 -m pytest -q training/tests
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import captions  # noqa: E402
import palette  # noqa: E402
import text_split  # noqa: E402

# a small table (same arithmetic as the 64/8 default) keeps the test fast
SPLIT = text_split.TableSplit(per_train=3, per_held=2, seed=0)
TRAIN_NAMES = {t[0] for t in captions.TRAIN}
HELD_NAMES = {t[0] for t in captions.HELD_OUT}


def test_table_geometry_matches_the_token_table_layout():
    n = palette.N_TUPLES
    assert SPLIT.offset == {"train": 0, "held_out": 3 * n}
    assert SPLIT.empty == 3 * n + 2 * n
    t = ("blue", "star", "growing", "beige")
    i = palette.all_tuples().index(t)
    assert SPLIT.locate(3 * i + 2) == ("train", t, 2)
    assert SPLIT.locate(3 * n + 2 * i + 1) == ("held_out", t, 1)
    assert SPLIT.locate(SPLIT.empty) == (None, None, None)
    assert SPLIT.caption(3 * i + 2)[0] == captions.caption_k(t, 2, "train", 0)


def test_training_rows_are_train_constructions_of_drawn_training_triples_only():
    rows = SPLIT.train_rows()
    assert rows and len(set(rows)) == len(rows)
    for r in rows:
        phrasing, t, _ = SPLIT.locate(r)
        assert phrasing == "train"
        assert tuple(t[:3]) not in {tuple(h) for h in palette.HELD_OUT}, t
        assert t[3] in palette.backgrounds_for(t[0]), t
        assert SPLIT.caption(r)[1] in TRAIN_NAMES
    # every drawn training tuple is there, with all its captions
    drawn = [t for t in palette.all_tuples() if text_split.drawn(t) and not text_split.held_out_triple(t)]
    assert len(rows) == 3 * len(drawn)


def test_evaluation_sets_are_what_they_say():
    sets = SPLIT.eval_sets()
    held = {tuple(h) for h in palette.HELD_OUT}
    want = {"held_out_phrasing": ("held_out", False), "held_out_triple": ("train", True),
            "held_out_both": ("held_out", True)}
    for name, (phrasing, triple_held) in want.items():
        assert sets[name], name
        for r in sets[name]:
            p, t, _ = SPLIT.locate(r)
            assert p == phrasing and (tuple(t[:3]) in held) == triple_held and text_split.drawn(t), (name, t)
            assert SPLIT.caption(r)[1] in (HELD_NAMES if phrasing == "held_out" else TRAIN_NAMES)
    assert set(sets["train_sample"]) <= set(SPLIT.train_rows())
    # nothing measured as held out is ever learned from
    learned = set(SPLIT.train_rows())
    assert not learned & (set(sets["held_out_phrasing"]) | set(sets["held_out_triple"]) | set(sets["held_out_both"]))


def test_labels_name_the_tuple_and_ignore_an_unsaid_background():
    seen_ignored = seen_said = False
    for r in SPLIT.train_rows()[:600] + SPLIT.eval_sets()["held_out_phrasing"][:200]:
        text, name = SPLIT.caption(r)
        _, t, _ = SPLIT.locate(r)
        lab = SPLIT.labels(r)
        assert [c[i] for c, i in zip(text_split.CLASSES[:3], lab[:3])] == list(t[:3])
        parsed = captions.parse(text)
        if captions.says_background(name):
            assert text_split.CLASSES[3][lab[3]] == t[3] == parsed[3], text
            seen_said = True
        else:
            assert lab[3] == text_split.IGNORE and parsed[3] is None, text
            seen_ignored = True
    assert seen_ignored and seen_said
    assert SPLIT.labels(SPLIT.empty) == (text_split.IGNORE,) * 4
