"""Between ComfyUI's IMAGE type (float [B, H, W, 3] in 0…1, a torch tensor) and PNG bytes.

numpy and PIL come with ComfyUI; torch is imported only when present, so the numpy path is
tested without it (`to_image_batch(…, use_torch=False)`).
"""
import io

import numpy as np
from PIL import Image


def png_to_array(png_bytes):
    """PNG bytes → uint8 [H, W, 3]."""
    with Image.open(io.BytesIO(png_bytes)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def array_to_png(pixels):
    """uint8 [H, W, 3] → PNG bytes."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3] pixels, got {pixels.dtype} {list(pixels.shape)}")
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG")
    return out.getvalue()


def first_image_uint8(image):
    """The first image of a ComfyUI IMAGE batch (torch or numpy, [B, H, W, C] or [H, W, C], floats
    in 0…1) as uint8 [H, W, 3]; an alpha channel is dropped, a grey one repeated."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().float().numpy()
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 4:
        if a.shape[0] < 1:
            raise ValueError("image: the batch is empty")
        a = a[0]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"image: expected [B, H, W, 3] (ComfyUI IMAGE), got shape {list(np.shape(image))}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    a = a[:, :, :3]
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_image_batch(frames, use_torch=None):
    """uint8 [H, W, 3] frames → float32 [F, H, W, 3] in 0…1: a torch tensor when torch can be
    imported (what ComfyUI's IMAGE is) or `use_torch`, else a numpy array."""
    if not frames:
        raise ValueError("no frames")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"frames differ in size: {sorted(shapes)}")
    batch = np.stack(frames).astype(np.float32) / 255.0
    if use_torch is None:
        try:
            import torch  # noqa: F401
            use_torch = True
        except ImportError:
            use_torch = False
    if use_torch:
        import torch
        return torch.from_numpy(batch)
    return batch
