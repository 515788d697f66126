"""The ComfyUI nodes against a live server with the demo models (no ComfyUI needed)."""
import os

import numpy as np
import pytest

import frames as framing
import nodes
from client import Client, TurboDiffusionError, job_fields

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROMPT = "A red circle moves right on a blue background."


class Bar:
    """Stands in for comfy.utils.ProgressBar."""

    def __init__(self):
        self.values = []

    def update_absolute(self, value, total):
        assert total == 1000
        self.values.append(value)


def test_node_declarations_follow_comfyui_conventions():
    assert set(nodes.NODE_CLASS_MAPPINGS) == {"TurboDiffusionT2V", "TurboDiffusionI2V"}
    assert set(nodes.NODE_DISPLAY_NAME_MAPPINGS) == set(nodes.NODE_CLASS_MAPPINGS)
    for cls in nodes.NODE_CLASS_MAPPINGS.values():
        inputs = cls.INPUT_TYPES()
        assert cls.RETURN_TYPES == ("IMAGE", "STRING") and cls.CATEGORY == "TurboDiffusion"
        assert callable(getattr(cls(), cls.FUNCTION))
        controls = set(inputs["required"]) | set(inputs["optional"])
        # The web UI's controls (docs/webui.md), plus where the server is.
        for name in ["server_url", "token", "model", "prompt", "num_steps", "seed", "resolution", "aspect_ratio", "size",
                     "num_frames", "attention_type", "sla_topk", "quant_linear", "sigma_max", "ode", "num_samples"]:
            assert name in controls, f"{cls.__name__} lacks {name}"
    i2v = nodes.TurboDiffusionI2V.INPUT_TYPES()
    assert i2v["required"]["image"] == ("IMAGE",)
    assert {"boundary", "adaptive_resolution"} <= set(i2v["optional"])


def test_job_fields_leave_defaults_to_the_server():
    job = job_fields("t2v", PROMPT, model="demo", seed=7)
    assert job == {"task": "t2v", "prompt": PROMPT, "model": "demo", "seed": 7, "num_steps": 4, "aspect_ratio": "16:9",
                   "attention_type": "sagesla", "quant_linear": False, "ode": False, "num_samples": 1, "frames": True}
    job = job_fields("i2v", PROMPT, resolution="480p", size=" 64x48 ", num_frames=9, sla_topk=0.2, sigma_max=80,
                     image="u0123456789abcdef", boundary=0.5, adaptive_resolution=True)
    assert (job["resolution"], job["size"], job["num_frames"], job["sla_topk"], job["sigma_max"]) == ("480p", "64x48", 9, 0.2, 80.0)
    assert (job["image"], job["boundary"], job["adaptive_resolution"]) == ("u0123456789abcdef", 0.5, True)
    with pytest.raises(TurboDiffusionError, match="prompt"):
        job_fields("t2v", "  ")


def test_client_url_forms():
    assert Client("http://127.0.0.1:7860/").base == "http://127.0.0.1:7860/api/v1"
    c = Client("http://127.0.0.1:7860/?token=abc")
    assert (c.base, c.token) == ("http://127.0.0.1:7860/api/v1", "abc")
    assert Client("http://h:1/?token=abc", token="given").token == "given"
    with pytest.raises(TurboDiffusionError, match="server URL"):
        Client("127.0.0.1:7860")


def test_t2v_node_returns_frames_and_mp4(server, tmp_path):
    url, _ = server
    bar = Bar()
    job = job_fields("t2v", PROMPT, model="demo", seed=3)
    images, path = nodes.run_job(Client(url), job, progress=bar, output_dir=str(tmp_path), use_torch=False)
    # The demo's clip: 17 frames of 64×64, floats in 0…1.
    assert images.shape == (17, 64, 64, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.01
    with open(path, "rb") as f:
        head = f.read(12)
    assert path.startswith(str(tmp_path)) and head[4:8] == b"ftyp" and os.path.getsize(path) > 1000
    assert bar.values == sorted(bar.values) and bar.values[-1] == 1000


def test_frames_are_the_served_pngs_and_deterministic(server, tmp_path):
    url, _ = server
    client = Client(url)
    job = job_fields("t2v", PROMPT, model="demo", seed=11, num_frames=5)
    a, _ = nodes.run_job(client, job, progress=Bar(), output_dir=str(tmp_path), use_torch=False)
    b, _ = nodes.run_job(client, job, progress=Bar(), output_dir=str(tmp_path), use_torch=False)
    assert a.shape == (5, 64, 64, 3)
    # Same seed, same pixels (the PNGs are exact; the MP4 is lossy).
    assert np.array_equal(a, b)


def test_i2v_node_starts_from_the_image(server, tmp_path):
    url, _ = server
    # The demo's sample picture, as ComfyUI would hold it: float [1, H, W, 3].
    with open(os.path.join(ROOT, "models", "demo", "sample_i2v.png"), "rb") as f:
        sample = framing.png_to_array(f.read())
    picture = sample.astype(np.float32)[None] / 255.0
    client = Client(url)
    upload = client.upload_png(framing.array_to_png(framing.first_image_uint8(picture)))
    job = job_fields("i2v", PROMPT, model="demo", seed=5, image=upload)
    images, path = nodes.run_job(client, job, progress=Bar(), output_dir=str(tmp_path), use_torch=False)
    assert images.shape == (17, 64, 64, 3) and os.path.exists(path)
    # The demo's I2V keeps the input image as its first frame (through the VAE: close, not equal):
    # much closer to it than to the same picture with its colour channels rotated.
    near = np.abs(images[0] - picture[0]).mean()
    far = np.abs(images[0] - picture[0][:, :, [1, 2, 0]]).mean()
    print(f"first frame vs input {near:.4f}, vs the input with rotated channels {far:.4f}")
    assert near < 0.05 and near < far / 3, (near, far)


def test_i2v_node_generate_with_numpy_image(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(nodes, "_output_directory", lambda: str(tmp_path))
    image = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    out = nodes.TurboDiffusionI2V().generate(url, "", "demo", PROMPT, 2, 9, "default", "16:9", image, num_frames=5)
    images, path = out
    assert tuple(images.shape) == (5, 64, 64, 3) and os.path.dirname(path) == str(tmp_path)


def test_interrupting_cancels_the_job(server, tmp_path):
    url, _ = server
    client = Client(url)
    seen = []

    def interrupted():
        seen.append(1)
        return len(seen) > 1   # after the first poll
    job = job_fields("t2v", PROMPT, model="demo", size="256x256", num_frames=81)
    with pytest.raises(TurboDiffusionError, match="interrupted"):
        nodes.run_job(client, job, progress=Bar(), interrupted=interrupted, output_dir=str(tmp_path), use_torch=False)
    newest = client._json("GET", "/jobs")["jobs"][0]
    final = client.wait(newest["id"])
    assert final["status"] == "cancelled" and not os.listdir(tmp_path)


def test_server_errors_name_the_field(server):
    url, _ = server
    client = Client(url)
    with pytest.raises(TurboDiffusionError) as e:
        client.submit(job_fields("t2v", PROMPT, model="demo", num_frames=8))
    assert e.value.status == 400 and e.value.field == "num_frames" and "4n+1" in str(e.value)
    with pytest.raises(TurboDiffusionError) as e:
        client.submit(job_fields("t2v", PROMPT, model="no-such-model"))
    assert e.value.field == "model"


def test_frames_route_refuses_jobs_without_frames(server):
    url, _ = server
    client = Client(url)
    job = job_fields("t2v", PROMPT, model="demo", num_frames=5)
    job["frames"] = False
    job_id = client.submit(job)
    record = client.wait(job_id)
    assert record["status"] == "succeeded" and "frames" not in record["output"]
    with pytest.raises(TurboDiffusionError) as e:
        client.frame_png(job_id, 0)
    assert e.value.status == 404
    with pytest.raises(TurboDiffusionError) as e:
        client.frame_png(job_id, "x")
    assert e.value.status == 400 and e.value.field == "index"


def test_token(token_server, tmp_path):
    url, _ = token_server
    with pytest.raises(TurboDiffusionError, match="401.*token"):
        Client(url).health()
    with pytest.raises(TurboDiffusionError, match="401"):
        Client(url, token="wrong").health()
    client = Client(url, token="s3cret-token")
    assert client.health()["auth"] is True
    images, _ = nodes.run_job(client, job_fields("t2v", PROMPT, model="demo", num_frames=5), progress=Bar(),
                              output_dir=str(tmp_path), use_torch=False)
    assert images.shape[0] == 5


def test_unreachable_server_says_so():
    with pytest.raises(TurboDiffusionError, match="cannot reach the TurboDiffusion server"):
        Client("http://127.0.0.1:9", timeout=5).health()


def test_image_conversions():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    assert np.array_equal(framing.png_to_array(framing.array_to_png(pixels)), pixels)
    as_float = pixels.astype(np.float32)[None] / 255.0
    assert np.array_equal(framing.first_image_uint8(as_float), pixels)
    rgba = np.concatenate([as_float, np.ones((1, 6, 5, 1), np.float32)], axis=3)
    assert np.array_equal(framing.first_image_uint8(rgba), pixels)
    with pytest.raises(ValueError, match="IMAGE"):
        framing.first_image_uint8(np.zeros((2, 3), np.float32))
    batch = framing.to_image_batch([pixels, pixels], use_torch=False)
    assert batch.shape == (2, 6, 5, 3) and batch.dtype == np.float32 and np.allclose(batch[0] * 255, pixels)


def test_torch_image_batch():
    torch = pytest.importorskip("torch")
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    batch = framing.to_image_batch([pixels], use_torch=True)
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32 and tuple(batch.shape) == (1, 2, 3, 3)
    assert np.array_equal(framing.first_image_uint8(batch), pixels)
