"""The caption grammar of the demo world: many ways to say (colour, shape, motion, background).

English and Chinese; synonyms for every colour, shape, motion and background; optional articles,
adjectives and adverbs; sentences, fragments and comma lists in several word orders; distractor words
("cinematic", "4k", "please", 高清 …) that carry no meaning in the world.

Constructions (sentence frames) are split in two: TRAIN constructions make every caption the models
see, the tokenizer included; HELD_OUT constructions make captions for evaluation only. The split is by
frame, not by word: every word and every Chinese character of a held-out caption also occurs in
training captions (tests/test_captions.py checks it), so a held-out caption asks for a new arrangement
of known words, never for an unknown word.

Deliberate exclusions: "ring" (hollow, not the filled circle the world draws), words for colours between
two of the world's (golden, amber, azure, magenta), and size adjectives that would contradict the growing
and shrinking motions ("big", 大).

Pure Python (no torch): the grammar, its parser and its tests run without the training stack.
"""
import random
import re

import palette

# ---- lexicon --------------------------------------------------------------------------------------------------
COLOUR_EN = {
    "red": ["red", "crimson", "scarlet"], "green": ["green", "emerald", "grass-green"],
    "blue": ["blue", "cobalt", "royal blue"], "yellow": ["yellow", "lemon", "lemon-yellow"],
    "purple": ["purple", "violet"], "orange": ["orange", "tangerine"], "white": ["white", "snow-white", "pure white"],
}
COLOUR_ZH = {
    "red": ["红色", "红", "鲜红色"], "green": ["绿色", "绿", "翠绿色"], "blue": ["蓝色", "蓝", "宝蓝色"],
    "yellow": ["黄色", "黄", "柠檬黄"], "purple": ["紫色", "紫", "紫罗兰色"], "orange": ["橙色", "橙", "橘色"],
    "white": ["白色", "白", "雪白色"],
}
BG_EN = {
    "black": ["black", "jet-black"], "gray": ["gray", "grey", "mid-gray"], "navy": ["navy", "navy blue", "midnight blue"],
    "brown": ["brown", "chocolate"], "dark green": ["dark green", "forest green", "deep green"],
    "white": ["white", "plain white"], "light gray": ["light gray", "light grey", "pale gray", "silver"],
    "beige": ["beige", "cream", "sand-colored"],
}
BG_ZH = {
    "black": ["黑色", "纯黑"], "gray": ["灰色", "中灰色"], "navy": ["深蓝色", "藏青色"], "brown": ["棕色", "褐色", "咖啡色"],
    "dark green": ["深绿色", "墨绿色"], "white": ["白色", "纯白"], "light gray": ["浅灰色", "淡灰色"],
    "beige": ["米色", "米黄色", "奶油色"],
}
SHAPE_EN = {
    "circle": ["circle", "disc", "disk", "ball", "dot", "round shape"], "square": ["square", "box", "block", "tile"],
    "triangle": ["triangle", "triangular shape"], "star": ["star", "star shape", "five-pointed star"],
}
SHAPE_ZH = {
    "circle": ["圆形", "圆", "圆圈", "圆球", "圆盘", "球"], "square": ["正方形", "方块", "方形"],
    "triangle": ["三角形", "三角"], "star": ["星形", "星星", "五角星"],
}
# English motions: (verb, [complements]); a complement "" means the verb alone says it.
_DIR = {
    "left": ["left", "to the left", "toward the left", "toward the left edge", "leftward", "from right to left"],
    "right": ["right", "to the right", "toward the right", "toward the right edge", "rightward", "from left to right"],
    "up": ["up", "upward", "toward the top", "from bottom to top"],
    "down": ["down", "downward", "toward the bottom", "from top to bottom"],
}
MOTION_EN = {
    "left": [(v, _DIR["left"]) for v in ("move", "drift", "slide", "glide", "travel", "float")] + [("go", ["left"])],
    "right": [(v, _DIR["right"]) for v in ("move", "drift", "slide", "glide", "travel", "float")] + [("go", ["right"])],
    "up": [("rise", ["", "up"]), ("move", _DIR["up"]), ("float", _DIR["up"]), ("drift", _DIR["up"]),
           ("climb", ["", "upward"]), ("go", ["up"])],
    "down": [("fall", ["", "down"]), ("drop", ["", "down"]), ("sink", ["", "downward"]), ("descend", [""]),
             ("move", _DIR["down"]), ("drift", _DIR["down"]), ("slide", _DIR["down"])],
    "bouncing": [("bounce", ["", "up and down", "around"]), ("hop", ["", "up and down"]), ("jump", ["up and down"])],
    "growing": [("grow", ["", "bigger", "larger"]), ("expand", [""]), ("swell", [""]), ("get", ["bigger", "larger"])],
    "shrinking": [("shrink", ["", "smaller"]), ("get", ["smaller"]), ("contract", [""]), ("dwindle", [""])],
}
_IRREGULAR = {"go": ("goes", "going"), "drop": ("drops", "dropping"), "hop": ("hops", "hopping"),
              "get": ("gets", "getting")}
MOTION_ZH = {
    "left": ["向左移动", "往左移动", "向左边移动", "往左飘", "向左滑动", "向左平移", "朝左边移动", "从右向左移动"],
    "right": ["向右移动", "往右移动", "向右边移动", "往右飘", "向右滑动", "向右平移", "朝右边移动", "从左向右移动"],
    "up": ["向上移动", "往上移动", "向上飘", "往上升", "上升", "缓缓升起", "向上浮动"],
    "down": ["向下移动", "往下移动", "往下掉", "往下落", "下落", "下沉", "向下滑"],
    "bouncing": ["上下弹跳", "弹跳", "蹦蹦跳跳", "跳来跳去", "上下跳动"],
    "growing": ["变大", "逐渐变大", "越来越大", "慢慢长大", "膨胀"],
    "shrinking": ["变小", "逐渐变小", "越来越小", "缩小", "收缩"],
}
ADJ_EN = ["small", "little", "bright", "solid", "simple", "flat", "single", "tiny"]
ADV_EN = ["slowly", "steadily", "gently", "smoothly"]
ADJ_ZH = ["小小的", "明亮的", "单个"]
ADV_ZH = ["慢慢地", "缓缓地", "正在"]
DISTRACT_EN = ["cinematic", "4k", "in a video", "please", "high quality", "hd", "simple animation", "smooth motion",
               "minimalist", "clean render", "short clip"]
DISTRACT_ZH = ["高清", "视频", "动画", "请生成", "电影感", "4K", "简约风格"]
BG_NOUN_EN = ["background", "backdrop"]


def _inflect(verb, form):
    if form == "bare":
        return verb
    if verb in _IRREGULAR:
        return _IRREGULAR[verb][0 if form == "s" else 1]
    if form == "s":
        return verb + "s"
    return (verb[:-1] if verb.endswith("e") else verb) + "ing"


def motion_phrases_en(motion, form):
    """Every English phrase for a motion in one verb form ('s': drifts left, 'ing': drifting left, 'bare')."""
    return [" ".join(x for x in (_inflect(v, form), c) if x) for v, comps in MOTION_EN[motion] for c in comps]


# ---- constructions --------------------------------------------------------------------------------------------
class _Pick:
    """Draws the words of one caption (one rng, so a seed fixes everything)."""

    def __init__(self, rng, colour, shape, motion, bg):
        self.rng, self.c, self.s, self.m, self.b = rng, colour, shape, motion, bg

    def one(self, xs):
        return self.rng.choice(xs)

    def maybe(self, text, p=0.5):
        return text if self.rng.random() < p else ""

    # English
    def colour(self):
        return self.one(COLOUR_EN[self.c])

    def shape(self):
        return self.one(SHAPE_EN[self.s])

    def adj(self):
        return self.maybe(self.one(ADJ_EN), 0.3)

    def np(self, article=True):
        """[article] [adjective] colour shape."""
        return self.det(" ".join(x for x in (self.adj(), self.colour(), self.shape()) if x), article)

    def det(self, phrase, article=True, choices=("a", "a", "the", "one", "")):
        if not article:
            return phrase
        d = self.one(choices)
        if d == "a" and phrase[0] in "aeiou":
            d = "an"
        return f"{d} {phrase}".strip()

    def motion(self, form, adverb=True):
        phrase = self.one(motion_phrases_en(self.m, form))
        adv = self.maybe(self.one(ADV_EN), 0.25) if adverb else ""
        return f"{adv} {phrase}".strip()

    def bg(self):
        return f"{self.one(BG_EN[self.b])} {self.one(BG_NOUN_EN)}"

    def bg_np(self):
        return self.det(self.bg(), choices=("a", "a", "the"))

    # Chinese
    def zc(self):
        return self.one(COLOUR_ZH[self.c])

    def zs(self):
        return self.one(SHAPE_ZH[self.s])

    def zm(self, adverb=True):
        return (self.maybe(self.one(ADV_ZH), 0.25) if adverb else "") + self.one(MOTION_ZH[self.m])

    def zb(self):
        return self.one(BG_ZH[self.b])

    def zone(self):
        return self.maybe("一个") + self.maybe(self.one(ADJ_ZH), 0.2)

    def zde(self):
        return self.maybe("的")


def _sentence(text):
    return text[0].upper() + text[1:] + "."


# Each construction: (name, language, says the background, function(pick) -> caption text).
TRAIN = [
    ("en_fragment", "en", True, lambda p: f"{p.np()} {p.motion('ing')} {p.one(['on', 'over', 'against', 'with'])} {p.bg_np()}"),
    ("en_sentence", "en", False, lambda p: _sentence(f"{p.np()} {p.motion('s')}")),
    ("en_sentence_bg", "en", True,
     lambda p: _sentence(f"{p.np()} {p.motion('s')}") + f" The {p.one(BG_NOUN_EN)} is {p.one(BG_EN[p.b])}."),
    ("en_sentence_on", "en", True, lambda p: _sentence(f"{p.np()} {p.motion('s')} on {p.bg_np()}")),
    ("en_list", "en", True, lambda p: f"{p.colour()} {p.shape()}, {p.motion('ing', False)}, {p.bg()}"),
    ("en_bg_first", "en", True, lambda p: f"{p.bg()}, {p.np()} {p.motion('ing')}"),
    ("en_shape_in_colour", "en", True,
     lambda p: f"{p.det(p.shape())} in {p.colour()} {p.motion('ing')} on {p.bg_np()}"),
    ("en_that", "en", True, lambda p: f"{p.np()} that {p.motion('s')} across {p.bg_np()}"),
    ("en_make", "en", False, lambda p: f"make {p.np()} {p.motion('bare')}"),
    ("zh_de", "zh", True, lambda p: f"{p.zc()}的{p.zs()}{p.zm()}，{p.zb()}背景"),
    ("zh_bg_on", "zh", True, lambda p: f"{p.zb()}{p.zde()}背景上，{p.zone()}{p.zc()}{p.zde()}{p.zs()}{p.zm()}"),
    ("zh_zai", "zh", True, lambda p: f"{p.zone()}{p.zc()}的{p.zs()}在{p.zb()}的背景{p.one(['上', '中'])}{p.zm()}"),
    ("zh_shi", "zh", True, lambda p: f"{p.zs()}是{p.zc()}的，{p.zm(False)}，背景是{p.zb()}"),
    ("zh_list", "zh", True, lambda p: f"{p.zc()}{p.zs()}，{p.zm(False)}，{p.zb()}背景"),
    ("zh_sentence", "zh", False, lambda p: f"{p.zone()}{p.zc()}{p.zde()}{p.zs()}{p.zm()}。"),
    ("zh_you", "zh", True, lambda p: f"{p.zb()}背景，有{p.zone()}{p.zc()}{p.zs()}{p.zm()}"),
]
HELD_OUT = [
    ("en_on_first", "en", True, lambda p: f"On {p.bg_np()}, {p.np()} {p.motion('s')}."),
    ("en_colour_after", "en", True, lambda p: f"{p.det(p.shape())}, {p.colour()}, {p.motion('ing', False)}, {p.bg()}"),
    ("en_progressive", "en", True, lambda p: _sentence(f"{p.np()} is {p.motion('ing')} on {p.bg_np()}")),
    ("en_bg_with", "en", True, lambda p: f"{p.bg_np()} with {p.np()} that {p.motion('s')}"),
    ("en_motion_last", "en", True, lambda p: f"{p.np()} on {p.bg_np()}, {p.motion('ing')}"),
    ("zh_zai_you", "zh", True, lambda p: f"在{p.zb()}的背景中，有一个{p.zc()}的{p.zs()}正在{p.zm(False)}"),
    ("zh_motion_first", "zh", True, lambda p: f"{p.zm(False)}的{p.zc()}{p.zs()}，{p.zb()}的背景"),
    ("zh_bg_shi_first", "zh", True, lambda p: f"背景是{p.zb()}，{p.zc()}的{p.zs()}{p.zm()}"),
]
PHRASINGS = {"train": TRAIN, "held_out": HELD_OUT}
ZH_SHARE = 0.3       # share of Chinese captions
DISTRACTOR_SHARE = 0.3


def _distract(pick, text, lang):
    if pick.rng.random() >= DISTRACTOR_SHARE:
        return text
    words = DISTRACT_ZH if lang == "zh" else DISTRACT_EN
    if lang == "zh" and pick.rng.random() < 0.3:
        words = ["4k", "cinematic"]          # English filler on a Chinese caption, as people type it
    d = pick.one(words)
    sep = "，" if lang == "zh" else ", "
    if pick.rng.random() < 0.4:
        return f"{d}{sep}{text}"
    return f"{text.rstrip('.。')}{sep}{d}"   # "… backdrop, hd", not "… backdrop., hd"


def caption(colour, shape, motion, bg, rng, phrasing="train", construction=None):
    """One caption for the named tuple. rng: random.Random. Returns (text, construction name)."""
    table = PHRASINGS[phrasing]
    if construction is None:
        lang = "zh" if rng.random() < ZH_SHARE else "en"
        name, lang, _, make = rng.choice([t for t in table if t[1] == lang])
    else:
        name, lang, _, make = next(t for t in table if t[0] == construction)
    pick = _Pick(rng, colour, shape, motion, bg)
    text = re.sub(r"\s+", " ", make(pick)).strip()
    return _distract(pick, text, lang), name


def says_background(construction):
    return next(t[2] for t in TRAIN + HELD_OUT if t[0] == construction)


def caption_k(t, k, phrasing, seed):
    """Caption k of tuple t = (colour, shape, motion, bg): a function of (seed, phrasing, t, k) alone."""
    return caption_k_named(t, k, phrasing, seed)[0]


def caption_k_named(t, k, phrasing, seed):
    """(caption k of tuple t, the name of its construction): caption_k with the frame it was made in."""
    return caption(*t, random.Random(f"{seed}|{phrasing}|{'|'.join(t)}|{k}"), phrasing)


def captions_for(tuples, per_tuple, phrasing, seed):
    """per_tuple captions for each tuple, tuple-major (caption_k for k = 0 … per_tuple − 1)."""
    return [caption_k(t, k, phrasing, seed) for t in tuples for k in range(per_tuple)]


# ---- parser: the keyword check the tests apply to every caption ------------------------------------------------
_BG_WORDS_EN = sorted({w for ws in BG_EN.values() for w in ws}, key=len, reverse=True)
_BG_WORDS_ZH = sorted({w for ws in BG_ZH.values() for w in ws}, key=len, reverse=True)
_BG_RE_EN = re.compile(r"\b(%s) (?:background|backdrop)\b|\b(?:background|backdrop) is (%s)\b"
                       % ("|".join(map(re.escape, _BG_WORDS_EN)), "|".join(map(re.escape, _BG_WORDS_EN))))
_BG_RE_ZH = re.compile(r"(%s)的?背景[上中]?|背景是(%s)" % ("|".join(_BG_WORDS_ZH), "|".join(_BG_WORDS_ZH)))
# Roots, written independently of the lexicon above: a synonym that drifts in meaning fails the tests.
_COLOUR_CUES = {"red": r"\bred\b|crimson|scarlet|红", "green": r"\bgreen|emerald|绿", "blue": r"\bblue|cobalt|蓝",
                "yellow": r"yellow|lemon|黄", "purple": r"purple|violet|紫", "orange": r"orange|tangerine|橙|橘",
                "white": r"white|白"}
_SHAPE_CUES = {"circle": r"\b(circle|dis[ck]|ball|dot|round)\b|圆|球", "square": r"\b(square|box|block|tile)\b|方",
               "triangle": r"triang|三角", "star": r"\bstar\b|星"}
_MOTION_CUES = [("bouncing", r"bounc|\bhop|jump|弹|跳"), ("growing", r"grow|expand|swell|bigger|larger|大|胀"),
                ("shrinking", r"shrink|smaller|contract|dwindl|小(?!小的)|缩")]
_DIR_CUES = {"left": r"\bleft|左", "right": r"\bright\b|rightward|右", "up": r"\bup\b|upward|\bris|climb|\btop\b|上|升",
             "down": r"\bdown|fall|drop|sink|descend|bottom|下|落|掉|沉"}


def parse(text):
    """(colour, shape, motion, background or None) named by a caption, by keyword roots; raises ValueError when
    a category is missing or ambiguous."""
    t = text.lower()
    bgs = [(m.group(1) or m.group(2), m.span()) for r in (_BG_RE_EN, _BG_RE_ZH) for m in r.finditer(t)]
    bg = None
    if bgs:
        names = {n for w, _ in bgs for n in palette.BG_NAMES if w in BG_EN[n] + BG_ZH[n]}
        if len(names) != 1:
            raise ValueError(f"backgrounds {names} in {text!r}")
        bg = names.pop()
        for a, b in sorted((s for _, s in bgs), reverse=True):
            t = t[:a] + " " + t[b:]
    t = re.sub(r"\bfrom (left|right|top|bottom) to\b", " ", t)
    t = re.sub(r"从[左右上下]向", "向", t)
    t = t.replace("小小的", "")   # an adjective (small), not the shrinking motion

    def one(cues, what):
        hits = [k for k, rx in cues.items() if re.search(rx, t)]
        if len(hits) != 1:
            raise ValueError(f"{what}: {hits} in {text!r}")
        return hits[0]

    colour, shape = one(_COLOUR_CUES, "colour"), one(_SHAPE_CUES, "shape")
    motion = next((m for m, rx in _MOTION_CUES if re.search(rx, t)), None) or one(_DIR_CUES, "motion")
    return colour, shape, motion, bg
