"""The shape's share of the flow-matching loss (train_all.py, --flow_object_weight).

The shape covers a few percent of a clip, so the plain mean of (v − (ε − x₀))² is mostly background:
a teacher trained on it drew the prompted colour in about half of its held-out clips. These helpers
weight the latent positions the shape touches, as --object_weight does for the VAE's pixels.
"""
import torch
import torch.nn.functional as F


def latent_cover(cover, time_stride=4, space_stride=8):
    """The shape's pixel coverage [n, 1, T, H, W] (T = 1 + time_stride·k) on the latent grid
    [n, 1, 1 + k, H / space_stride, W / space_stride]: the most over the pixels and frames each latent
    position encodes (frame 0 alone, then groups of time_stride frames, as the causal VAE groups them)."""
    n, c, t, h, w = cover.shape
    if c != 1 or (t - 1) % time_stride or h % space_stride or w % space_stride:
        raise ValueError(f"cover {tuple(cover.shape)}: want [n, 1, 1 + {time_stride}k, {space_stride}a, {space_stride}b]")
    rest = cover[:, :, 1:].reshape(n, 1, (t - 1) // time_stride, time_stride, h, w).amax(3)
    frames = torch.cat([cover[:, :, :1], rest], 2)
    return F.max_pool3d(frames, (1, space_stride, space_stride))


def weighted_mse(pred, target, cover, weight):
    """mean(w·(pred − target)²) with w = 1 + weight·cover (cover [n, 1, …] broadcast over channels),
    normalised by the mean of w so the loss keeps the plain MSE's scale; weight 0 is F.mse_loss."""
    if weight == 0:
        return F.mse_loss(pred, target)
    w = (1 + weight * cover.float()).expand_as(pred)
    return (w * (pred - target) ** 2).sum() / w.sum()
