"""Image preprocessing of upstream's I2V: torchvision Resize((h, w), antialias=True) on a uint8 image.

Run with the pinned environment:  python scripts/reference/make_image_fixtures.py
Writes Tests/PipelineTests/Fixtures/resize.safetensors: a structured random 37×23 RGB image and its
resizes to several sizes (down, up, mixed), computed by torch's antialiased bilinear on uint8.
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "PipelineTests", "Fixtures")
SIZES = [(16, 12), (64, 40), (10, 30), (37, 23), (5, 3)]   # (width, height)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(5)
    h, w = 23, 37
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    smooth = torch.stack([xx * 6, yy * 10, (xx + yy) * 4]).float()
    img = (smooth + torch.randint(0, 60, (3, h, w), generator=g)).clamp(0, 255).to(torch.uint8)
    tensors = {"image": img.permute(1, 2, 0).contiguous()}            # [H, W, 3] as files store pixels
    for (tw, th) in SIZES:
        out = F.interpolate(img[None], size=(th, tw), mode="bilinear", antialias=True, align_corners=False)[0]
        tensors[f"resized_{tw}x{th}"] = out.permute(1, 2, 0).contiguous()
    save_file(tensors, os.path.join(OUT, "resize.safetensors"))
    print("wrote", len(tensors), "tensors")


if __name__ == "__main__":
    main()
