"""The caption grammar (training/captions.py) and the world's palette, without torch:

    python3 -m pytest -q training/tests
"""
import math
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import captions  # noqa: E402
import palette  # noqa: E402

TUPLES = [t for t in palette.all_tuples() if t[3] in palette.backgrounds_for(t[0])]


def sample(phrasing, n, seed):
    rng = random.Random(seed)
    return [(t, *captions.caption(*t, rng, phrasing)) for t in (rng.choice(TUPLES) for _ in range(n))]


TRAIN = sample("train", 12000, 1)
HELD = sample("held_out", 3000, 2)


def expected(t, construction):
    return (*t[:3], t[3] if captions.says_background(construction) else None)


def test_every_caption_parses_back_to_its_tuple():
    for t, text, name in TRAIN + HELD:
        assert captions.parse(text) == expected(t, name), (text, name)


def test_every_word_of_the_lexicon_parses_to_its_meaning():
    for c in palette.COLOUR_NAMES:
        for w in captions.COLOUR_EN[c]:
            assert captions.parse(f"a {w} circle moving left on a black background")[0] == c, w
        for w in captions.COLOUR_ZH[c]:
            assert captions.parse(f"{w}的圆形向左移动，灰色背景")[0] == c, w
    for s in palette.SHAPES:
        for w in captions.SHAPE_EN[s]:
            assert captions.parse(f"a red {w} moving left on a black background")[1] == s, w
        for w in captions.SHAPE_ZH[s]:
            assert captions.parse(f"红色的{w}向左移动，灰色背景")[1] == s, w
    for m in palette.MOTIONS:
        for form in ("s", "ing", "bare"):
            for w in captions.motion_phrases_en(m, form):
                assert captions.parse(f"a red square {w} on a black background")[2] == m, w
        for w in captions.MOTION_ZH[m]:
            assert captions.parse(f"红色的方块{w}，灰色背景")[2] == m, w
    for b in palette.BG_NAMES:
        for w in captions.BG_EN[b]:
            assert captions.parse(f"a green star moving up on a {w} backdrop")[3] == b, w
            assert captions.parse(f"A green star rises. The background is {w}.")[3] == b, w
        for w in captions.BG_ZH[b]:
            assert captions.parse(f"绿色的星形向上移动，{w}背景")[3] == b, w
            assert captions.parse(f"星形是绿色的，上升，背景是{w}")[3] == b, w


def test_parser_rejects_captions_that_do_not_name_one_thing():
    for text in ["a red blue circle moving left", "a red circle and a square moving left", "a red circle",
                 "红色的圆形", "a circle moving left on a black background"]:
        try:
            captions.parse(text)
        except ValueError:
            continue
        raise AssertionError(f"parsed {text!r}")


def test_constructions_of_train_and_held_out_are_disjoint():
    assert not {t[0] for t in captions.TRAIN} & {t[0] for t in captions.HELD_OUT}
    assert {n for _, _, n in HELD} == {t[0] for t in captions.HELD_OUT}
    assert not {text for _, text, _ in TRAIN} & {text for _, text, _ in HELD}


_STRIP = sorted(captions.DISTRACT_EN + captions.DISTRACT_ZH + ["4k", "cinematic"], key=len, reverse=True)


def _slot_pattern():
    slots = {}
    for m in palette.MOTIONS:
        for form in ("s", "ing", "bare"):
            slots.update((w, f"<M{form}>") for w in captions.motion_phrases_en(m, form))
        slots.update((w, "<M>") for w in captions.MOTION_ZH[m])
    for table, tag in ((captions.COLOUR_EN, "<C>"), (captions.COLOUR_ZH, "<C>"), (captions.SHAPE_EN, "<S>"),
                       (captions.SHAPE_ZH, "<S>")):
        slots.update((w, tag) for ws in table.values() for w in ws)
    words = sorted(slots, key=len, reverse=True)
    en = [re.escape(w) for w in words if re.search(r"[a-z]", w)]
    zh = [re.escape(w) for w in words if not re.search(r"[a-z]", w)]
    return slots, re.compile(r"(?<![\w<-])(%s)(?![\w>-])|(%s)" % ("|".join(en), "|".join(zh)))


_SLOTS, _SLOT_RE = _slot_pattern()


def skeleton(text):
    """A caption with its content words replaced by slot tags and its optional words removed: what is left is
    the frame (word order, function words, punctuation, verb form) a reader sees."""
    t = text.lower()
    for d in _STRIP:
        d = d.lower()
        t = t.replace(d + ", ", "").replace(", " + d, "").replace(d + "，", "").replace("，" + d, "")
    # backgrounds first, by their noun (a colour word names a background only next to it)
    for rx in (captions._BG_RE_EN, captions._BG_RE_ZH):
        t = rx.sub(lambda m: m.group(0).replace(m.group(1) or m.group(2), "<B>"), t)
    t = _SLOT_RE.sub(lambda m: _SLOTS[m.group(0)], t)
    for w in captions.ADJ_EN + captions.ADV_EN + ["a", "an", "the", "one"]:
        t = re.sub(rf"\b{w}\b ", "", t)
    for w in captions.ADJ_ZH + captions.ADV_ZH + ["一个"]:
        t = t.replace(w, "")
    return re.sub(r"\s+", " ", t.replace("的", "")).strip()


def test_held_out_frames_never_occur_in_training():
    train = {skeleton(text) for _, text, _ in TRAIN}
    held = {skeleton(text): text for _, text, _ in HELD}
    shared = {k: v for k, v in held.items() if k in train}
    assert not shared, shared
    assert all(k.count("<C>") == 1 and k.count("<S>") == 1 and k.count("<B>") <= 1 for k in list(train) + list(held))


def test_held_out_captions_use_only_words_seen_in_training():
    def units(text):
        return set(re.findall(r"[a-z0-9-]+", text.lower())) | set(re.findall(r"[\u4e00-\u9fff]", text))
    seen = set().union(*(units(text) for _, text, _ in TRAIN))
    unseen = set().union(*(units(text) for _, text, _ in HELD)) - seen
    assert not unseen, unseen


def test_every_synonym_occurs_in_training():
    text = "\n".join(c for _, c, _ in TRAIN)
    for table in (captions.COLOUR_EN, captions.COLOUR_ZH, captions.SHAPE_EN, captions.SHAPE_ZH, captions.BG_EN,
                  captions.BG_ZH, captions.MOTION_ZH):
        for ws in table.values():
            for w in ws:
                assert w in text, w
    for m in palette.MOTIONS:
        assert any(w in text for w in captions.motion_phrases_en(m, "ing")), m


def test_both_languages_and_distractors_occur():
    for rows in (TRAIN, HELD):
        zh = sum(bool(re.search(r"[\u4e00-\u9fff]", c)) for _, c, _ in rows) / len(rows)
        assert 0.2 < zh < 0.4, zh
        fillers = captions.DISTRACT_EN + captions.DISTRACT_ZH
        with_filler = sum(any(d in c for d in fillers) for _, c, _ in rows) / len(rows)
        assert 0.2 < with_filler < 0.4, with_filler
    zh_frames = {n for _, _, n in TRAIN if n.startswith("zh")}
    assert len(zh_frames) >= 5, zh_frames


def test_captions_are_deterministic_under_a_seed():
    tuples = TUPLES[:40]
    a = captions.captions_for(tuples, 3, "train", 7)
    assert a == captions.captions_for(tuples, 3, "train", 7)
    assert a != captions.captions_for(tuples, 3, "train", 8)
    assert captions.captions_for(tuples[5:6], 3, "train", 7) == a[15:18]   # caption k of a tuple is fixed
    assert len(set(a)) > 0.9 * len(a)


def test_light_backgrounds_keep_the_colour_check_unambiguous():
    ramp = [0.75 + 0.5 * i / 63 for i in range(64)]   # world.render's vertical gradient
    for colour, rgb in palette.COLOURS.items():
        for bg in palette.backgrounds_for(colour):
            base = palette.BACKGROUNDS[bg]
            nearest = min(math.dist(rgb, [min(1.0, v * r) for v in base]) for r in ramp + [1.0])
            assert nearest > 0.30 + 0.05, (colour, bg, nearest)
    light = palette.LIGHT_BACKGROUNDS
    for a in light:
        for b in palette.BACKGROUNDS:
            if a != b:
                assert math.dist(light[a], palette.BACKGROUNDS[b]) > 0.25, (a, b)
    assert "white" not in palette.backgrounds_for("white")
