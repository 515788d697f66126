"""Fixtures for Tests/MediaTests (fixed seeds; run with /opt/refvenv/bin/python).

    /opt/refvenv/bin/python scripts/reference/make_media_fixtures.py

Needs Pillow (in /opt/refvenv), torch, numpy, and `cjpeg` (apt: libjpeg-turbo-progs) for the JPEG sampling
layouts PIL cannot write. Rewrites Tests/MediaTests/Fixtures/ from scratch:

- png/*.png: every colour type and bit depth, interlaced or not, filters 0-4 cycling per row, tRNS,
  several IDAT chunks, an eXIf orientation. Written by our own minimal PNG writer below (zlib), so every
  variant can be produced; the expected RGB comes from the samples themselves (alpha discarded, 16-bit
  samples keep their high byte) and is cross-checked against PIL wherever PIL's convert("RGB") is exact.
- jpeg/*.jpg: baseline/progressive, 4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, mixed chroma factors, gray,
  restart intervals, odd sizes, EXIF orientations 1-8; expected = PIL (libjpeg-turbo) decode, transposed by
  ImageOps.exif_transpose for the orientation files. Plus refusal cases (arithmetic, CMYK).
- images.json: name -> {width, height, expected (raw .rgb file), and for some, over_black/over_white}.
- resize.json: torch F.interpolate bilinear (align_corners=False) on float, and antialiased bilinear on uint8
  (the path torchvision's Resize(antialias=True) takes for uint8 CPU images, as the upstream I2V script uses),
  and the uint8 <-> [-1, 1] conversions of upstream (ToDtype(scale=True) + Normalize(0.5, 0.5); and
  (1 + x) / 2 * 255 + 0.5 truncated, as imaginaire's save_image_or_video).
"""
import io, json, os, shutil, struct, subprocess, tempfile, zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "MediaTests", "Fixtures")
manifest = {}


def pattern(w, h, seed):
    """Smooth colour ramps, a hard edge and noise: every JPEG frequency and PNG filter gets work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 2.0 + y / 3.0)
    img = np.stack([r, g, b], -1)
    img[(x > w / 2) & (y < h / 2)] = [250, 30, 60]
    img += rng.normal(0, 12, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def save_expected(name, rgb, **extra):
    h, w, _ = rgb.shape
    fn = name.replace("/", "_") + ".rgb"
    with open(os.path.join(ROOT, "expected", fn), "wb") as f:
        f.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    entry = {"width": int(w), "height": int(h), "expected": "expected/" + fn}
    for k, v in extra.items():
        vfn = name.replace("/", "_") + "." + k + ".rgb"
        with open(os.path.join(ROOT, "expected", vfn), "wb") as f:
            f.write(np.ascontiguousarray(v, dtype=np.uint8).tobytes())
        entry[k] = "expected/" + vfn
    manifest[name] = entry


# ---------------------------------------------------------------- PNG

def png_chunk(t, body):
    return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """samples: 1-D ints at `depth` bits -> bytes (big-endian, MSB-first packing)."""
    if depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    if depth == 8:
        return bytes(int(s) for s in samples)
    bits = "".join(format(int(s), "0%db" % depth) for s in samples)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows, bpp, first_filter):
    out, prior = b"", bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        ft = (first_filter + i) % 5
        f = bytearray(len(row))
        for k in range(len(row)):
            a = row[k - bpp] if k >= bpp else 0
            b = prior[k]
            c = prior[k - bpp] if k >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
            f[k] = (row[k] - pred) & 0xFF
        out += bytes([ft]) + bytes(f)
        prior = row
    return out


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, color_type, depth, interlace=False, plte=None, trns=None, exif=None, idat_parts=3):
    """samples: [H, W, channels] ints at full depth."""
    h, w, ch = samples.shape
    bpp = max(1, ch * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = b""
    for pi, (x0, y0, dx, dy) in enumerate(passes):
        sub = samples[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        rows = [pack_row(sub[r].reshape(-1), depth) for r in range(sub.shape[0])]
        raw += filter_rows(rows, bpp, pi)
    z = zlib.compress(raw, 9)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if exif is not None:
        out += png_chunk(b"eXIf", exif)
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    step = max(1, len(z) // idat_parts + 1)
    for i in range(0, len(z), step):
        out += png_chunk(b"IDAT", z[i:i + step])
    out += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def tiff_orientation(o, little=True):
    e = "<" if little else ">"
    bo = b"II" if little else b"MM"
    return bo + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, o, 0) + struct.pack(e + "I", 0)


def make_pngs():
    rng = np.random.default_rng(1)
    W, H = 19, 13
    base = pattern(W, H, 2).astype(np.int64)
    alpha8 = rng.integers(0, 256, (H, W))
    for interlace in (False, True):
        sfx = "_i" if interlace else ""
        for depth in (1, 2, 4, 8, 16):
            maxv = (1 << depth) - 1
            g = rng.integers(0, maxv + 1, (H, W, 1))
            name = "png/g%d%s" % (depth, sfx)
            write_png(os.path.join(ROOT, name + ".png"), g, 0, depth, interlace)
            g8 = (g >> 8) if depth == 16 else g * (255 // maxv)
            exp = np.repeat(g8, 3, -1).astype(np.uint8)
            if depth <= 8:
                assert (np.asarray(Image.open(os.path.join(ROOT, name + ".png")).convert("RGB")) == exp).all(), name
            save_expected(name, exp)
        for depth in (8, 16):
            s = base if depth == 8 else base * 256 + rng.integers(0, 256, base.shape)
            name = "png/rgb%d%s" % (depth, sfx)
            write_png(os.path.join(ROOT, name + ".png"), s, 2, depth, interlace)
            exp = (s >> 8 if depth == 16 else s).astype(np.uint8)
            assert (np.asarray(Image.open(os.path.join(ROOT, name + ".png")).convert("RGB")) == exp).all(), name
            save_expected(name, exp)
            a = alpha8 if depth == 8 else alpha8 * 257
            for ct, tag, s2 in ((6, "rgba", s), (4, "ga", s[..., :1])):
                name = "png/%s%d%s" % (tag, depth, sfx)
                write_png(os.path.join(ROOT, name + ".png"), np.concatenate([s2, a[..., None]], -1), ct, depth, interlace)
                c8 = (s2 >> 8 if depth == 16 else s2)
                c8 = np.repeat(c8, 3, -1) if ct == 4 else c8
                a8 = (a >> 8 if depth == 16 else a)[..., None]
                exp = c8.astype(np.uint8)
                assert (np.asarray(Image.open(os.path.join(ROOT, name + ".png")).convert("RGB")) == exp).all(), name
                save_expected(name, exp, over_black=(c8 * a8 + 127) // 255,
                              over_white=(c8 * a8 + 255 * (255 - a8) + 127) // 255)
        for depth in (1, 2, 4, 8):
            n = 1 << depth
            plte = rng.integers(0, 256, (min(n, 200), 3))  # 8-bit: fewer entries than indices allow
            idx = rng.integers(0, len(plte), (H, W, 1))
            name = "png/p%d%s" % (depth, sfx)
            trns = bytes(rng.integers(0, 256, len(plte) // 2).astype(np.uint8)) if depth >= 4 else None
            write_png(os.path.join(ROOT, name + ".png"), idx, 3, depth, interlace, plte=plte, trns=trns)
            exp = plte[idx[..., 0]].astype(np.uint8)
            assert (np.asarray(Image.open(os.path.join(ROOT, name + ".png")).convert("RGB")) == exp).all(), name
            save_expected(name, exp)
    # colour-key transparency: discarded by default, like PIL
    write_png(os.path.join(ROOT, "png/rgb8_trns.png"), base, 2, 8, trns=struct.pack(">HHH", *base[0, 0]))
    save_expected("png/rgb8_trns", base.astype(np.uint8))
    g = rng.integers(0, 256, (H, W, 1))
    write_png(os.path.join(ROOT, "png/g8_trns.png"), g, 0, 8, trns=struct.pack(">H", int(g[0, 0, 0])))
    save_expected("png/g8_trns", np.repeat(g, 3, -1).astype(np.uint8))
    # tiny interlaced images with empty Adam7 passes
    for (w, h) in ((1, 1), (3, 2), (2, 5)):
        s = rng.integers(0, 256, (h, w, 3))
        name = "png/tiny_%dx%d_i" % (w, h)
        write_png(os.path.join(ROOT, name + ".png"), s, 2, 8, True, idat_parts=1)
        save_expected(name, s.astype(np.uint8))
    # eXIf orientation 6 (big-endian TIFF): displayed rotated 90 degrees clockwise
    write_png(os.path.join(ROOT, "png/rgb8_exif6.png"), base, 2, 8, exif=tiff_orientation(6, little=False))
    im = ImageOps.exif_transpose(Image.open(os.path.join(ROOT, "png/rgb8_exif6.png"))).convert("RGB")
    exp = np.asarray(im)
    assert exp.shape == (W, H, 3)
    save_expected("png/rgb8_exif6", exp)


# ---------------------------------------------------------------- JPEG

def pil_decode(path, transpose=False):
    im = Image.open(path)
    if transpose:
        im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"))


def make_jpegs():
    img = pattern(37, 29, 3)
    tiny = pattern(3, 5, 4)
    cases = [
        ("base444", img, dict(subsampling=0, quality=92)),
        ("base422", img, dict(subsampling=1, quality=92)),
        ("base420", img, dict(subsampling=2, quality=85)),
        ("base420_rst", img, dict(subsampling=2, quality=85, restart_marker_blocks=2)),
        ("base420_q100", img, dict(subsampling=2, quality=100)),
        ("prog420", img, dict(subsampling=2, quality=85, progressive=True)),
        ("prog444", img, dict(subsampling=0, quality=95, progressive=True)),
        ("prog420_rst", img, dict(subsampling=2, quality=80, progressive=True, restart_marker_blocks=3)),
        ("tiny420", tiny, dict(subsampling=2, quality=90)),
        ("tiny422_prog", tiny, dict(subsampling=1, quality=90, progressive=True)),
    ]
    for name, px, kw in cases:
        p = os.path.join(ROOT, "jpeg", name + ".jpg")
        Image.fromarray(px).save(p, "JPEG", **kw)
        save_expected("jpeg/" + name, pil_decode(p))
    gray = pattern(37, 29, 5)[..., 1]
    for name, kw in (("gray", dict(quality=90)), ("gray_prog", dict(quality=90, progressive=True))):
        p = os.path.join(ROOT, "jpeg", name + ".jpg")
        Image.fromarray(gray, "L").save(p, "JPEG", **kw)
        save_expected("jpeg/" + name, pil_decode(p))
    # Layouts PIL cannot write: cjpeg from libjpeg-turbo.
    with tempfile.TemporaryDirectory() as d:
        ppm = os.path.join(d, "in.ppm")
        Image.fromarray(img).save(ppm)
        for name, args in (("h1v2", ["-sample", "1x2"]), ("h4v1", ["-sample", "4x1"]),
                           ("mixed_2x2_2x1", ["-sample", "2x2,2x1,1x1"]),
                           ("prog_h1v2_rst", ["-sample", "1x2", "-progressive", "-restart", "1"]),
                           ("prog_custom", ["-sample", "2x2", "-progressive", "-restart", "5B"])):
            p = os.path.join(ROOT, "jpeg", name + ".jpg")
            subprocess.run(["cjpeg", "-quality", "88", *args, "-outfile", p, ppm], check=True)
            save_expected("jpeg/" + name, pil_decode(p))
        subprocess.run(["cjpeg", "-arithmetic", "-outfile", os.path.join(ROOT, "jpeg", "refuse_arithmetic.jpg"), ppm], check=True)
    Image.fromarray(img).convert("CMYK").save(os.path.join(ROOT, "jpeg", "refuse_cmyk.jpg"), "JPEG")
    # EXIF orientation 1..8 (little-endian TIFF); expected = PIL's exif_transpose
    small = pattern(11, 7, 6)
    for o in range(1, 9):
        p = os.path.join(ROOT, "jpeg", "exif%d.jpg" % o)
        Image.fromarray(small).save(p, "JPEG", quality=90, subsampling=2, exif=b"Exif\x00\x00" + tiff_orientation(o))
        save_expected("jpeg/exif%d" % o, pil_decode(p, transpose=True))
        manifest["jpeg/exif%d" % o]["stored"] = [11, 7]


# ---------------------------------------------------------------- resize and conversions

def make_resize():
    g = torch.Generator().manual_seed(7)
    out = {"bilinear": [], "antialias_u8": []}
    x = torch.rand(1, 3, 7, 9, generator=g) * 2 - 1
    for (oh, ow) in ((13, 17), (4, 5), (7, 20), (3, 9), (16, 11)):
        y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)
        out["bilinear"].append({"in_shape": [3, 7, 9], "input": x[0].reshape(-1).tolist(),
                                "out_shape": [3, oh, ow], "output": y[0].reshape(-1).tolist()})
    u = torch.from_numpy(pattern(31, 23, 8)).permute(2, 0, 1).unsqueeze(0)  # channels_last memory, like ToImage
    assert u.is_contiguous(memory_format=torch.channels_last)
    for (oh, ow) in ((10, 13), (40, 37), (23, 15), (11, 31), (5, 70), (3, 4)):
        y = F.interpolate(u, size=(oh, ow), mode="bilinear", antialias=True, align_corners=False)
        y2 = F.interpolate(u.contiguous(), size=(oh, ow), mode="bilinear", antialias=True, align_corners=False)
        assert torch.equal(y, y2), "AVX (channels_last) and generic uint8 paths differ"
        out["antialias_u8"].append({"in_shape": [3, 23, 31], "input": u[0].reshape(-1).tolist(),
                                    "out_shape": [3, oh, ow], "output": y[0].reshape(-1).tolist()})
    # uint8 -> [-1, 1] as torchvision's ToDtype(float32, scale=True) then Normalize([.5]*3, [.5]*3)
    v = torch.arange(256, dtype=torch.uint8).to(torch.float32).mul_(1.0 / 255)
    v = (v - 0.5) / 0.5
    out["to_unit"] = v.tolist()
    # [-1, 1] -> uint8 as the upstream scripts: (1 + clamp(x, -1, 1)) / 2 then numpy (x * 255 + 0.5).astype(uint8)
    probes = torch.cat([torch.linspace(-1.2, 1.2, 241), torch.tensor([-1.0, 1.0, 0.0, -0.0, 1 / 255, -1 / 255]),
                        (torch.arange(256).float() - 127.5) / 127.5])
    t = (1.0 + probes.clamp(-1, 1)) / 2.0
    u8 = (t.numpy() * 255 + 0.5).astype(np.uint8)
    out["from_unit"] = {"input": probes.tolist(), "output": u8.tolist()}
    with open(os.path.join(ROOT, "resize.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    shutil.rmtree(ROOT, ignore_errors=True)
    for sub in ("png", "jpeg", "expected"):
        os.makedirs(os.path.join(ROOT, sub))
    make_pngs()
    make_jpegs()
    make_resize()
    with open(os.path.join(ROOT, "images.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(ROOT) for fn in fns)
    print("fixtures: %d images, %.1f kB" % (len(manifest), total / 1024))
