"""The ComfyUI nodes: TurboDiffusion T2V and I2V through a running `turbodiffusion webui`.

The controls are the web UI's (docs/webui.md). A node submits one job, reports its progress on
ComfyUI's progress bar, and returns the frames as an IMAGE batch plus the path of the MP4, which it
downloads into ComfyUI's output folder (the server may run on another machine).
"""
import os

try:
    from .client import Client, TurboDiffusionError, job_fields
    from . import frames as framing
except ImportError:  # loaded as a top-level module (the tests)
    from client import Client, TurboDiffusionError, job_fields
    import frames as framing

SEED_MAX = 2**53 - 1   # the API keeps seeds below 2^53 (JavaScript numbers hold them exactly)
RESOLUTIONS = ["default", "480p", "720p"]
ASPECT_RATIOS = ["16:9", "9:16", "4:3", "3:4", "1:1"]
ATTENTION = ["sagesla", "sla", "original"]


def _progress_bar(total):
    try:
        import comfy.utils
        return comfy.utils.ProgressBar(total)
    except ImportError:
        return None


def _interrupted():
    try:
        import comfy.model_management as mm
        return bool(mm.processing_interrupted())
    except ImportError:
        return False


def _raise_if_interrupted():
    try:
        import comfy.model_management as mm
    except ImportError:
        return
    mm.throw_exception_if_processing_interrupted()


def _output_directory():
    try:
        import folder_paths
        base = folder_paths.get_output_directory()
    except ImportError:
        base = os.path.join(os.getcwd(), "output")
    return os.path.join(base, "turbodiffusion")


def _shared_inputs(models):
    return {
        "server_url": ("STRING", {"default": "http://127.0.0.1:7860"}),
        "token": ("STRING", {"default": ""}),
        "model": (models, {"default": models[0]}),
        "prompt": ("STRING", {"multiline": True, "default": ""}),
        "num_steps": ("INT", {"default": 4, "min": 1, "max": 4}),
        "seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX}),
        "resolution": (RESOLUTIONS, {"default": "default"}),
        "aspect_ratio": (ASPECT_RATIOS, {"default": "16:9"}),
    }


def _advanced_inputs():
    return {
        "size": ("STRING", {"default": "", "tooltip": "WxH in multiples of 16; overrides resolution"}),
        "num_frames": ("INT", {"default": 0, "min": 0, "max": 161, "step": 4, "tooltip": "4n+1; 0: the model's default"}),
        "attention_type": (ATTENTION, {"default": "sagesla"}),
        "sla_topk": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip": "0: the default"}),
        "quant_linear": ("BOOLEAN", {"default": False}),
        "sigma_max": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 10000.0, "tooltip": "0: the default"}),
        "ode": ("BOOLEAN", {"default": False}),
        "num_samples": ("INT", {"default": 1, "min": 1, "max": 4}),
    }


def run_job(client, job, progress=None, interrupted=_interrupted, output_dir=None, use_torch=None):
    """Submits `job`, waits, fetches every frame and the MP4. Returns (IMAGE batch, MP4 path)."""
    job_id = client.submit(job)
    bar = progress if progress is not None else _progress_bar(1000)

    def report(fraction, _record):
        if bar is not None:
            bar.update_absolute(int(round(fraction * 1000)), 1000)

    try:
        record = client.wait(job_id, on_progress=report, interrupted=interrupted)
    except TurboDiffusionError:
        _raise_if_interrupted()   # ComfyUI's own exception, so it reports an interruption, not an error
        raise
    if record["status"] != "succeeded":
        raise TurboDiffusionError(f"job {job_id} {record['status']}: {record.get('error') or 'no reason given'}")
    output = record.get("output") or {}
    count = output.get("frames") or 0
    if count < 1:
        raise TurboDiffusionError(f"job {job_id} succeeded but the server kept no frames (is it older than the frames API?)")
    pixels = [framing.png_to_array(client.frame_png(job_id, i)) for i in range(count)]
    directory = output_dir or _output_directory()
    os.makedirs(directory, exist_ok=True)
    path = client.download_output(output["name"], os.path.join(directory, output["name"]))
    return framing.to_image_batch(pixels, use_torch=use_torch), path


class TurboDiffusionT2V:
    CATEGORY = "TurboDiffusion"
    FUNCTION = "generate"
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("frames", "video_path")
    DESCRIPTION = "Text to video on a running `turbodiffusion webui` server."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": _shared_inputs(["demo", "Wan2.1-1.3B", "Wan2.1-14B"]), "optional": _advanced_inputs()}

    def generate(self, server_url, token, model, prompt, num_steps, seed, resolution, aspect_ratio, **advanced):
        client = Client(server_url, token)
        job = job_fields("t2v", prompt, model=model, num_steps=num_steps, seed=seed, resolution=resolution,
                         aspect_ratio=aspect_ratio, **advanced)
        return run_job(client, job)


class TurboDiffusionI2V:
    CATEGORY = "TurboDiffusion"
    FUNCTION = "generate"
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("frames", "video_path")
    DESCRIPTION = "Image to video on a running `turbodiffusion webui` server; the first image of the batch starts the video."

    @classmethod
    def INPUT_TYPES(cls):
        required = _shared_inputs(["demo", "Wan2.2-A14B"])
        required["image"] = ("IMAGE",)
        optional = _advanced_inputs()
        optional["boundary"] = ("FLOAT", {"default": 0.9, "min": 0.0, "max": 1.0, "step": 0.01})
        optional["adaptive_resolution"] = ("BOOLEAN", {"default": False})
        return {"required": required, "optional": optional}

    def generate(self, server_url, token, model, prompt, num_steps, seed, resolution, aspect_ratio, image, **advanced):
        client = Client(server_url, token)
        upload = client.upload_png(framing.array_to_png(framing.first_image_uint8(image)))
        job = job_fields("i2v", prompt, model=model, num_steps=num_steps, seed=seed, resolution=resolution,
                         aspect_ratio=aspect_ratio, image=upload, **advanced)
        return run_job(client, job)


NODE_CLASS_MAPPINGS = {"TurboDiffusionT2V": TurboDiffusionT2V, "TurboDiffusionI2V": TurboDiffusionI2V}
NODE_DISPLAY_NAME_MAPPINGS = {"TurboDiffusionT2V": "TurboDiffusion Text to Video",
                              "TurboDiffusionI2V": "TurboDiffusion Image to Video"}
