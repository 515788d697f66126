"""training/demo_files.py on the shipped models/demo; skipped where torch is not installed (CI)."""
import argparse
import json
import os
import sys

import pytest

torch = pytest.importorskip("torch")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import demo_files  # noqa: E402
import recipe  # noqa: E402

DEMO = os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "demo")


def shipped(name):
    return torch.load(os.path.join(DEMO, name), map_location="cpu", weights_only=True)


def same(a, b):
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k])
                                        for k in a)


def test_wan_layout_inverts_turbo_layout_bit_for_bit():
    for name, in_dim in (("dit_t2v.pth", 16), ("dit_i2v.pth", 36)):
        sd = shipped(name)
        wan = demo_files.wan_layout(sd)
        assert wan["patch_embedding.weight"].shape == (recipe.DIT["dim"], in_dim, 1, 2, 2)
        assert same(demo_files.turbo_layout(wan), sd), name


def test_wan_layout_refuses_a_quantized_checkpoint():
    with pytest.raises(SystemExit, match="quantized"):
        demo_files.wan_layout(shipped("dit_t2v_quant.pth"))


def args(demo, work):
    # train_all.py's defaults for the token table
    return argparse.Namespace(demo=demo, work=work, captions_per_tuple=64, held_out_per_tuple=8, caption_seed=0)


def test_import_demo_writes_the_work_files(tmp_path):
    pytest.importorskip("sentencepiece")
    recipe.ARGS = args(DEMO, str(tmp_path))
    demo_files.stage_import_demo()
    table = torch.load(tmp_path / "tokens.pt", map_location="cpu")
    assert table["vocab"] == 1024 and table["per_tuple"] == {"train": 64, "held_out": 8}
    meta = json.load(open(os.path.join(DEMO, "demo.json")))
    vae = torch.load(tmp_path / "vae.pt", map_location="cpu")
    assert same(vae["vae"], shipped("vae.pth"))
    for key in ("mean", "std"):   # demo.json's statistics, the ones the engine runs the shipped DiTs with
        assert torch.equal(vae[key], torch.tensor(meta["vae"][f"latent_{key}"], dtype=torch.float32))
    teacher = torch.load(tmp_path / "teacher.pt", map_location="cpu")
    assert same(teacher["t5"], shipped("t5.pth"))
    assert same(demo_files.turbo_layout(teacher["dit"]), shipped("dit_t2v.pth"))
    assert (tmp_path / "spiece.model").read_bytes() == open(os.path.join(DEMO, "spiece.model"), "rb").read()


def test_import_demo_refuses_another_configuration(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    meta = json.load(open(os.path.join(DEMO, "demo.json")))
    meta["dit"]["dim"] = 512
    (demo / "demo.json").write_text(json.dumps(meta))
    recipe.ARGS = args(str(demo), str(tmp_path))
    with pytest.raises(SystemExit, match="shipped DiT"):
        demo_files.stage_import_demo()
