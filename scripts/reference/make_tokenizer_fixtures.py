"""Tokenizer and prompt-cleaning fixtures for Tests/TokenizerTests (run by hand, fixed seeds).

    /opt/refvenv/bin/python scripts/reference/make_tokenizer_fixtures.py

1. Trains small unigram models with the `sentencepiece` package's own trainer on generated
   mixed text (English, Chinese, Japanese, Korean, emoji, punctuation, whitespace runs):
     spiece.model           nmt_nfkc, byte fallback, user-defined symbols, T5 ids (pad 0, eos 1, unk 2)
     spiece_nfkc_cf.model   nfkc_cf, no byte fallback, no dummy prefix, extra whitespace kept
     spiece_identity.model  identity normalization, whitespace not escaped (flag edited after training)
2. Exports spiece.model as a Hugging Face tokenizer.json with transformers' T5Converter, and
   describes further tokenizer.json layouts as overrides of that file (the umT5 2023 layout,
   transformers 5's T5Tokenizer layout, Metaspace prepend_scheme "first"...).
3. Writes >= 2,000 test strings with the ids the Python libraries produce for each file, the
   text after Wan's prompt cleaning (wan/modules/tokenizers.py, clean='whitespace'), and
   end-to-end ids through Wan's HuggingfaceTokenizer (padding, truncation, attention mask).

Needs: sentencepiece, tokenizers, transformers, protobuf, ftfy, regex and the wan22 wheel
(see requirements.txt). Invalid UTF-8 inputs are stored as base64 bytes; every library sees
them decoded with errors='replace', which is what the Swift tokenizer does too.
"""
import base64
import copy
import io
import json
import os
import random
import sys
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as spm_pb2
import tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wan_reference  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "TokenizerTests", "Fixtures")

# ----------------------------------------------------------------------------------------
# Building blocks for text
# ----------------------------------------------------------------------------------------
EN = """a an the of in on at with and or to from over under into through above below near far
cat dog bird horse fish tiger lion panda robot woman man girl boy child old young astronaut
runs walks flies swims jumps dances sings smiles looks turns falls rises glows shines moves
slowly quickly gently softly wildly calmly bright dark golden silver red blue green white black
camera shot close-up wide-angle aerial tracking dolly zoom pan tilt cinematic realistic
dramatic lighting sunset sunrise night morning evening rain snow fog mist storm wind cloud
sky ocean sea river lake mountain forest desert city street road bridge building tower house
room window door table chair lamp candle fire water ice stone glass metal wood paper flower
tree grass leaf petal cherry blossom garden park beach wave sand rock cliff valley field
video frame scene background foreground portrait landscape style film grain 4k 8k hdr
detailed beautiful colorful vivid soft sharp blurry motion blur depth of field bokeh
neon cyberpunk futuristic ancient medieval vintage retro modern fantasy magical mysterious
happy sad angry surprised peaceful quiet loud busy empty crowded small large tiny huge""".split()
EN_ACCENTED = "café naïve résumé jalapeño façade über Ärger Straße coöperate São Paulo Zürich Kraków Ελλάδα Москва".split()
ZH = ("一只猫在草地上奔跑阳光明媚的下午城市夜景霓虹灯闪烁雨中的街道行人撑着伞镜头缓慢推进"
      "美丽的山川河流森林里有鸟儿歌唱小女孩在海边堆沙堡宇航员漂浮在太空中古老的寺庙樱花飘落"
      "电影感画面高清细节丰富色彩鲜艳柔和的光线慢动作特写航拍全景")
JA = ("カメラがゆっくりと動く桜の花びらが舞う東京の夜景ネオンが光る雨の中を歩く女性"
      "猫が窓辺で眠っている富士山の朝日美しい風景アニメ風のイラスト")
KO = "고양이가 잔디 위를 달린다 아름다운 도시의 밤 풍경 카메라가 천천히 움직인다"
EMOJI = ["😀", "👍", "👍🏽", "🎬", "🌸", "🐱", "🚀", "❤️", "✨", "🔥", "🌧️", "👨‍👩‍👧‍👦", "🏳️‍🌈",
         "🇯🇵", "🇺🇸", "1️⃣", "#️⃣", "🧑🏿‍🚀", "👩‍💻", "🫠", "☃", "⛄"]
PUNCT = list(".,!?;:'\"()[]{}-–—…、。，！？「」『』（）·•@#$%^&*_+=/\\|~`<>")
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0", " \t ", "\n\n", "\u2028", "\u200b"]
RARE = ("ሰላም ኢትዮጵያ བོད་ཡིག ᏣᎳᎩ 𐀀𐀁𐀂 𒀀𒀁 ⠓⠑⠇⠇⠕ ᚠᚢᚦᚨ ꦗꦮ ߒߞߏ ᠮᠣᠩᠭᠣᠯ 𓀀𓀁 ܐܪܡܝܐ"
        " ภาษาไทย हिन्दी বাংলা தமிழ் עברית العربية ქართული Հայերեն").split()
FORMS = ["ＡＢＣ", "ａｂｃ", "１２３", "！？", "ｶﾀｶﾅ", "ﾊﾟﾋﾟﾌﾟ", "ﬁ", "ﬂ", "ﬃ", "Ĳ", "ǆ", "①", "⑳", "½", "¾",
         "x²", "H₂O", "Ⅻ", "ⅷ", "㍻", "㈱", "㎏", "℃", "™", "…", "ﷺ", "µ", "Å", "K", "Ω", "ſ", "ß",
         "e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "ﬁ\u0301", "Ａ\u0301", "\u0301", "Z\u0335\u0321\u0327a",
         "\u1100\u1161\u11a8", "가", "각", "\u00ad", "\ufeff", "\u200d", "\u200c", "\u2060", "\u202e", "\ufe0f"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1c", "\x1f", "\x7f", "\x80", "\x85",
            "\x93", "\x9f", "\ue000", "\uf8ff", "\ufffd", "\ufffe", "\U0010ffff", "\U000e0041"]
SPECIAL = ["<sep>", "</s>", "<pad>", "<unk>", "[MASK]", "ﬁx", "<0x41>", "<0xE3>", "▁", "▁▁", "<s>",
           "<extra_id_0>", "&lt;sep&gt;"]
MOJIBAKE_SOURCE = ["café au lait", "naïve résumé", "“quoted text”", "it’s a “test” — ok…", "Straße über Öl",
                   "São Paulo à la carte", "€ 100 ™ ©", "Ελληνικά γράμματα", "Русский текст", "日本語のテキスト",
                   "emoji 😀 here", "10 × 20 ÷ 5 ± 1", "ñandú jalapeño", "Kraków Łódź", "ça va à l’école",
                   "• bullet • list", "1½ cups", "señor niño", "Ærøskøbing", "I ♥ NY"]


def en_sentence(r, n=None):
    n = n or r.randint(3, 18)
    words = []
    for _ in range(n):
        x = r.random()
        if x < 0.80:
            w = r.choice(EN)
            if r.random() < 0.1:
                w = w.capitalize()
            if r.random() < 0.03:
                w = w.upper()
        elif x < 0.88:
            w = str(r.randint(0, 3000))
        elif x < 0.93:
            w = r.choice(EN_ACCENTED)
        else:
            w = r.choice(EMOJI)
        words.append(w)
        if r.random() < 0.12:
            words[-1] += r.choice(".,!?;:")
    return " ".join(words)


def cjk_sentence(r, source, n=None):
    n = n or r.randint(4, 30)
    out = []
    for _ in range(n):
        x = r.random()
        if x < 0.85:
            out.append(r.choice(source))
        elif x < 0.93:
            out.append(r.choice("，。！？、「」（）"))
        else:
            out.append(r.choice(EMOJI + [str(r.randint(0, 99))]))
    return "".join(out)


def training_corpus(r):
    lines = []
    for _ in range(12000):
        lines.append(en_sentence(r))
        lines.append(cjk_sentence(r, ZH))
        lines.append(cjk_sentence(r, JA))
        if r.random() < 0.3:
            lines.append(" ".join(r.choice(KO.split()) for _ in range(r.randint(2, 8))))
        if r.random() < 0.2:
            lines.append(" ".join(r.choice(EMOJI + PUNCT + FORMS) for _ in range(r.randint(2, 10))))
        if r.random() < 0.02:
            lines.append(" ".join(r.choice(RARE) for _ in range(3)))
    return lines


# ----------------------------------------------------------------------------------------
# Test strings
# ----------------------------------------------------------------------------------------
def mojibake(r, s):
    enc = r.choice(["latin-1", "cp1252", "cp1252", "cp1251", "mac_roman", "cp437", "iso-8859-2", "cp1250"])
    raw = s.encode("utf-8")
    out = raw.decode(enc, errors="replace")
    if r.random() < 0.15:  # doubly encoded
        out = out.encode("utf-8").decode("cp1252", errors="replace")
    if r.random() < 0.2:  # a process turned U+00A0 into a plain space
        out = out.replace("\u00a0", " ")
    return out


def html_noise(r):
    ents = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&apos;", "&nbsp;", "&eacute;", "&EACUTE;", "&Eacute;",
            "&eacute", "&amp", "&ampx", "&notit;", "&notin;", "&hellip;", "&mdash;", "&#x2019;", "&#8217;",
            "&#x1F600;", "&#128512;", "&#0;", "&#x110000;", "&#xD800;", "&#128;", "&#150;", "&#1;", "&#x7f;",
            "&#65", "&#x41", "&#65a;", "&#xZZ;", "&#;", "&;", "& ", "&&amp;", "&amp;amp;", "&amp;lt;b&amp;gt;",
            "&NTILDE;", "&nTILDE;", "&SZLIG;", "&Jscr;", "&HilbertSpace;", "&checkmark;", "&CounterClockwiseContourIntegral;",
            "&abcdefghijklmnopqrstuvwxyzabcdefghij;", "&#99999999999999999999;", "&#x0000041;", "&lt", "&LT;", "&GT",
            "&fjlig;", "&NotNestedGreaterGreater;", "&acE;", "&bne;"]
    parts = []
    for _ in range(r.randint(1, 5)):
        parts.append(r.choice(ents))
        if r.random() < 0.7:
            parts.append(r.choice(EN) + r.choice(["", " ", "  ", "\n"]))
    if r.random() < 0.15:
        parts.insert(r.randint(0, len(parts)), "<b>")
    return "".join(parts)


def soup(r, n):
    pools = [EN, list(ZH), list(JA), list(KO), EMOJI, PUNCT, SPACES, RARE, FORMS, CONTROLS, SPECIAL]
    weights = [20, 10, 8, 4, 8, 10, 12, 4, 10, 4, 3]
    out = []
    for _ in range(n):
        pool = r.choices(pools, weights)[0]
        out.append(r.choice(pool))
    return "".join(out)


def invalid_bytes(r):
    base = (en_sentence(r, r.randint(1, 6)) + " " + cjk_sentence(r, ZH, r.randint(1, 6))).encode("utf-8")
    bads = [b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80",
            b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5", b"\xff", b"\xfe\xff", b"\xe0\x80\x80",
            b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xc3\x28", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc",
            b"\xa0\xa1", b"\xed\xa0\x80\xed\xb0\x80"]
    for _ in range(r.randint(1, 4)):
        pos = r.randint(0, len(base))
        base = base[:pos] + r.choice(bads) + base[pos:]
    return base


FIXED = [
    "", " ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\t\n \r", "\u3000", "\u00a0", "\u00a0\u00a0", "\u200b",
    "\ufeff", "\u2028", "\u2029", "\x85", "\x0b\x0c", " a", "a ", " a ", "  a  b  ", "a\tb", "a\nb", "a\r\nb",
    "a\u3000b", "a\u00a0b", "a\u2003b", "a\u200bb", "a\u2028b", "hello", "Hello, world!", "HELLO WORLD",
    "A cat walks on the grass.", "一只猫在草地上奔跑。", "カメラがゆっくりと動く。", "고양이가 달린다",
    "The camera slowly pans across a neon-lit city at night, rain falling, cinematic 4k.",
    "a▁b", "▁", "▁▁", "▁a", "a▁", " ▁ ", "<sep>", "a<sep>b", " <sep> ", "<sep><sep>", "x </s> y", "</s>",
    "<pad>", "<unk>", "<unk><unk>", "[MASK]", "a [MASK] b", "ﬁx", "ﬁxed", "the ﬁx is in", "ﬁ", "ﬁﬁ", "<0x41>",
    "<0xE3><0x81>", "<s>", "<extra_id_0>", "😀", "😀😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇯🇵🇺🇸", "1️⃣", "🧑🏿‍🚀",
    "e\u0301", "é", "e\u0301\u0301\u0301", "ﬁ\u0301", "Ａ\u0301", "\u0301", "\u0301a", "a\u0308\u0301",
    "Z̵̡̧̛̛̖̮̪̟̣̩a̷̢̛̜̘l̶̡̛̰g̵̢̛o̴̡̤", "ＦＵＬＬ　ＷＩＤＴＨ", "ｶﾀｶﾅ", "ﾊﾟﾋﾟﾌﾟ", "①②③", "½ ¼ ¾", "x² y³", "H₂O", "Ⅻ ⅷ", "㍻", "㈱",
    "㎏㎞", "℃", "™", "…", "ﷺ", "ﷺﷺ", "µ", "Å", "K", "Ω", "ſt", "ß", "İ", "ı", "ǅ", "\u00ad", "a\u00adb",
    "\x00", "a\x00b", "\x01\x02\x03", "\x1b[31mred\x1b[0m", "\x7f", "\x80\x93", "\ue000", "\uf8ff", "\ufffd",
    "\ufffe", "\U0010ffff", "\U000e0041\U000e0042", "ሰላም", "བོད་ཡིག", "ᏣᎳᎩ", "𐀀𐀁", "𒀀", "⠓⠑⠇⠇⠕", "ภาษาไทย",
    "हिन्दी", "क्षत्रिय", "العربية", "עברית", "\u202eabc", "ქართული", "Ελληνικά", "Русский", "Ǳ", "ǲ", "ĳ", "ŉ",
    "“curly” ‘quotes’", "it’s", "„low“", "‹›«»", "—–-", "•", "Ã©", "cafÃ©", "â€œquotedâ€\x9d", "Ã la mode",
    "voilÃ le travail", "sÃ³", "âœ” No problems", "&macr;\\_(ã\x83\x84)_/&macr;", "Broken text&hellip; it&#x2019;s ﬂubberiﬁc!",
    "ＬＯＵＤ　ＮＯＩＳＥＳ", "P&EACUTE;REZ", "BUNDESSTRA&SZLIG;E", "&ntilde; &Ntilde; &NTILDE; &nTILDE;",
    "&lt;tag&gt;", "<b>&amp;</b>", "a < b &amp; c", "&amp;amp;", "&amp;lt;", "&#38;#38;", "&eacute", "&notit;",
    "this&not that", "&Jscr;ohn &HilbertSpace;ancock", "line1\nline2 &amp;\n<x>\n&amp;", "\r\n\r\n",
    "tab\tseparated\tvalues", "   leading", "trailing   ", "multiple     spaces", "mixed \t\n\r\u3000\u00a0 spaces",
    "中文 English 日本語 한국어", "123 456 7890", "3.14159", "1,000,000", "$100", "100%", "C++", "e-mail@example.com",
    "https://example.com/path?q=1&r=2", "snake_case_name", "CamelCaseName", "ALLCAPS", "x" * 200,
    "ab" * 150, "😀" * 50, "中" * 100, " " * 100 + "a" + " " * 100, "\n" * 50,
]


def make_cases(r):
    cases = []  # (category, python str or bytes)

    def add(cat, x):
        cases.append((cat, x))

    for s in FIXED:
        add("fixed", s)
    for _ in range(560):
        s = en_sentence(r)
        if r.random() < 0.3:
            s = s + r.choice(SPACES) + en_sentence(r)
        if r.random() < 0.2:
            s = r.choice(SPACES) + s + r.choice(SPACES)
        if r.random() < 0.15:
            s = s + " " + cjk_sentence(r, ZH)
        add("prompt", s)
    for _ in range(320):
        add("cjk", cjk_sentence(r, r.choice([ZH, JA, ZH + JA, KO])))
    for _ in range(380):
        add("soup", soup(r, r.randint(1, 40)))
    for _ in range(200):
        s = soup(r, r.randint(1, 8))
        words = [r.choice(SPECIAL) if r.random() < 0.4 else r.choice(EN) for _ in range(r.randint(1, 6))]
        add("special", r.choice(["", " "]).join(words) + s)
    for _ in range(200):
        words = [r.choice(EN + list(ZH)) for _ in range(r.randint(0, 6))]
        out = r.choice(SPACES)
        for w in words:
            out += w + "".join(r.choice(SPACES) for _ in range(r.randint(1, 3)))
        add("whitespace", out)
    for _ in range(160):
        add("invalid_utf8", invalid_bytes(r))
    for _ in range(260):
        s = mojibake(r, r.choice(MOJIBAKE_SOURCE))
        if r.random() < 0.4:
            s = en_sentence(r, 4) + " " + s + " " + en_sentence(r, 3)
        add("mojibake", s)
    for _ in range(150):
        add("html", html_noise(r))
    # very long inputs (~5k characters)
    add("long", " ".join(en_sentence(r) for _ in range(80))[:5000])
    add("long", "".join(cjk_sentence(r, ZH + JA) for _ in range(300))[:5000])
    add("long", soup(r, 1200)[:5000])
    add("long", ("   ".join(en_sentence(r, 3) for _ in range(400)))[:5000])
    add("long", "".join(r.choice(EMOJI) for _ in range(1200)))
    add("long", "&amp;" * 1000)
    return cases


# ----------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------
def train(lines, **kw):
    spm.set_random_generator_seed(1234)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, model_type="unigram",
                                   num_threads=1, minloglevel=2, **kw)
    return buf.getvalue()


def edit_proto(blob, fn):
    m = spm_pb2.ModelProto()
    m.ParseFromString(blob)
    fn(m)
    return m.SerializeToString()


def hf_from_spm(model_path):
    """transformers' T5Converter on our spiece.model, with byte fallback switched on."""
    from transformers.convert_slow_tokenizer import T5Converter

    class Original:
        vocab_file = model_path
        _extra_ids = 0

        @staticmethod
        def convert_tokens_to_ids(token):
            return 1 if token == "</s>" else None

    tk = T5Converter(Original()).converted()
    data = json.loads(tk.to_str())
    data["model"]["byte_fallback"] = True
    # Published T5/umT5 tokenizer.json files list <unk> among the added special tokens
    # (transformers registers it from the config anyway); the converter leaves it out.
    data["added_tokens"].append({"id": 2, "content": "<unk>", "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": False, "special": True})
    data["added_tokens"].sort(key=lambda t: t["id"])
    return data


def hf_v5_layout(model_dir):
    """The layout transformers 5's T5Tokenizer builds from a spiece.model."""
    from transformers import T5Tokenizer
    t = T5Tokenizer.from_pretrained(model_dir, extra_ids=0)
    return json.loads(t.backend_tokenizer.to_str())


def apply_overrides(base, ov, charsmap):
    data = copy.deepcopy(base)

    def subst(x):
        if isinstance(x, dict):
            return {k: subst(v) for k, v in x.items()}
        if isinstance(x, list):
            return [subst(v) for v in x]
        return charsmap if x == "$CHARSMAP" else x

    for key, value in ov.items():
        if key in ("base", "every"):
            continue
        if key == "model_byte_fallback":
            if value is None:
                data["model"].pop("byte_fallback", None)
            else:
                data["model"]["byte_fallback"] = value
        else:
            data[key] = subst(value)
    return data


def main():
    r = random.Random(20250101)
    os.makedirs(OUT, exist_ok=True)
    lines = training_corpus(r)

    main_blob = train(lines, vocab_size=1500, normalization_rule_name="nmt_nfkc", byte_fallback=True,
                      pad_id=0, eos_id=1, unk_id=2, bos_id=-1, user_defined_symbols=["<sep>", "[MASK]", "ﬁx"],
                      character_coverage=0.9995)
    cf_blob = train(lines[::3], vocab_size=400, normalization_rule_name="nfkc_cf", byte_fallback=False,
                    add_dummy_prefix=False, remove_extra_whitespaces=False, character_coverage=0.999,
                    control_symbols=["<ctrl>"])
    id_blob = train(lines[::4], vocab_size=900, normalization_rule_name="identity", byte_fallback=True,
                    character_coverage=0.99,
                    pad_id=3, eos_id=2, unk_id=0, bos_id=1, treat_whitespace_as_suffix=False)

    def no_escape(m):
        m.normalizer_spec.escape_whitespaces = False
        m.normalizer_spec.remove_extra_whitespaces = False
    id_blob = edit_proto(id_blob, no_escape)

    models = {"spiece.model": main_blob, "spiece_nfkc_cf.model": cf_blob, "spiece_identity.model": id_blob}
    for name, blob in models.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(blob)

    # tokenizer.json layouts
    main_path = os.path.join(OUT, "spiece.model")
    hf = hf_from_spm(main_path)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(hf, f, ensure_ascii=False, indent=1)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "spiece.model"), "wb") as f:
            f.write(main_blob)
        v5 = hf_v5_layout(d)
    charsmap = [n for n in hf["normalizer"]["normalizers"] if n["type"] == "Precompiled"][0]["precompiled_charsmap"]
    extra = {"<sep>": {"lstrip": True, "rstrip": True}, "[MASK]": {"single_word": True},
             "ﬁx": {"normalized": True}, "</s>": {"single_word": True, "lstrip": True}}
    v5_norm = v5["normalizer"]
    assert v5_norm["type"] == "Precompiled" and v5_norm["precompiled_charsmap"] == charsmap
    # Each layout lists the ids that differ from its base layout ("spiece.model" = sentencepiece's
    # ids + [1]); "every" > 1 restricts a layout to the cases whose index is a multiple of it.
    variants = {
        "converter": {"base": "spiece.model"},
        "converter_no_byte_fallback": {"base": "converter", "model_byte_fallback": False},
        # google/umt5-xxl's tokenizer.json as written by 2023 converters
        "legacy_umt5": {
            "base": "converter_no_byte_fallback",
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": "$CHARSMAP"},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
            "model_byte_fallback": None,
        },
        "transformers_v5": {
            "base": "converter_no_byte_fallback",
            "normalizer": {"type": "Precompiled", "precompiled_charsmap": "$CHARSMAP"},
            "pre_tokenizer": v5["pre_tokenizer"],
            "added_tokens": v5["added_tokens"],
            "model_byte_fallback": v5["model"].get("byte_fallback", False),
        },
        "first_no_split": {
            "base": "converter",
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        },
        "no_normalizer_strip_both": {
            "base": "converter", "every": 4,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Strip", "strip_left": True, "strip_right": True},
                {"type": "Replace", "pattern": {"String": "\t"}, "content": " "},
                {"type": "Lowercase"},
                {"type": "Prepend", "prepend": "▁"}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}]},
        },
        # added-token options the converter never writes: normalized matching, single_word, strips
        "added_token_flags": {
            "base": "converter",
            "added_tokens": [dict(t, **extra.get(t["content"], {})) for t in hf["added_tokens"]],
        },
    }
    hf_tokenizers = {name: tokenizers.Tokenizer.from_str(json.dumps(apply_overrides(hf, ov, charsmap)))
                     for name, ov in variants.items()}

    sps = {name: spm.SentencePieceProcessor(model_proto=blob) for name, blob in models.items()}

    cases = make_cases(r)
    texts = [x.decode("utf-8", errors="replace") if isinstance(x, bytes) else x for _, x in cases]
    print(f"{len(cases)} cases")

    case_rows = []
    for (cat, x) in cases:
        if isinstance(x, bytes):
            case_rows.append({"cat": cat, "b64": base64.b64encode(x).decode("ascii"),
                              "decoded": x.decode("utf-8", errors="replace")})
        else:
            case_rows.append({"cat": cat, "text": x})
    write_json("cases.json", {"count": len(case_rows), "cases": case_rows})

    spm_ids = {}
    for name, sp in sps.items():
        every = 1 if name == "spiece.model" else 2  # the other models see every second case
        ids = [sp.encode(t) if i % every == 0 else None for i, t in enumerate(texts)]
        spm_ids[name] = ids
        write_json("ids_" + name.replace(".model", ".json"),
                   {"model": name, "eos_id": sp.eos_id(), "pad_id": sp.pad_id(), "unk_id": sp.unk_id(),
                    "every": every, "ids": ids})

    full = {"spiece.model": [ids + [1] for ids in spm_ids["spiece.model"]]}
    hf_rows = {}
    for name, tk in hf_tokenizers.items():
        every = variants[name].get("every", 1)
        base = full[variants[name]["base"]]
        got_all = [tk.encode(t).ids if i % every == 0 else None for i, t in enumerate(texts)]
        full[name] = got_all
        diffs = {str(i): got for i, got in enumerate(got_all) if got is not None and got != base[i]}
        hf_rows[name] = diffs
        n = sum(g is not None for g in got_all)
        print(f"tokenizer.json layout {name}: {n} cases, {n - len(diffs)} equal to {variants[name]['base']}")
    write_json("ids_tokenizer_json.json", {
        "note": "ids of tokenizers " + tokenizers.__version__ + " (post-processor included) for each layout of "
                "tokenizer.json; only cases whose ids differ from the layout's base are listed",
        "variants": variants, "differs": hf_rows})

    # Wan's prompt cleaning and the end-to-end tokenizer call
    tk_mod = wan_reference.load("tokenizers")
    cleaned = {}
    for i, t in enumerate(texts):
        c = tk_mod.whitespace_clean(tk_mod.basic_clean(t))
        if c != t:
            cleaned[str(i)] = c
    write_json("cleaning.json", {"note": "whitespace_clean(basic_clean(text)) of wan/modules/tokenizers.py "
                                         "(ftfy " + __import__("ftfy").__version__ + "); cases not listed are unchanged",
                                 "changed": cleaned})

    e2e = wan_end_to_end(tk_mod, hf, texts, r)
    write_json("wan_end_to_end.json", e2e)


def wan_end_to_end(tk_mod, hf, texts, r):
    """Wan's HuggingfaceTokenizer(seq_len, clean='whitespace') on a directory holding our tokenizer.json."""
    picks = sorted(r.sample(range(len(texts)), 300))
    rows = []
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(hf, f, ensure_ascii=False)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "pad_token": "<pad>",
                       "unk_token": "<unk>", "model_max_length": 512}, f)
        for seq_len, idx in ((512, picks[:200]), (16, picks[200:])):
            tok = tk_mod.HuggingfaceTokenizer(name=d, seq_len=seq_len, clean="whitespace")
            for i in idx:
                ids, mask = tok([texts[i]], return_mask=True, add_special_tokens=True)
                ids = ids[0].tolist()
                mask = mask[0].tolist()
                n = sum(mask)
                assert mask == [1] * n + [0] * (seq_len - n) and all(v == 0 for v in ids[n:])
                rows.append({"case": i, "seq_len": seq_len, "ids": ids[:n]})
    return {"note": "ids[:mask_len] of HuggingfaceTokenizer(seq_len, clean='whitespace'); the rest is pad 0 "
                    "with mask 0", "rows": rows}


def write_json(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {name}: {os.path.getsize(path) / 1024:.0f} kB")


if __name__ == "__main__":
    main()
