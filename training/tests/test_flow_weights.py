"""training/flow_weights.py; skipped where torch is not installed (CI)."""
import os
import sys

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import flow_weights  # noqa: E402


def test_latent_cover_groups_frames_causally_and_pools_patches():
    cover = torch.zeros(2, 1, 9, 16, 24)
    cover[0, 0, 0, 3, 5] = 0.25                # frame 0: latent frame 0, patch (0, 0)
    cover[0, 0, 4, 9, 17] = 1.0                # frames 1..4: latent frame 1, patch (1, 2)
    cover[1, 0, 8, 15, 23] = 0.5               # frames 5..8: latent frame 2, last patch
    lat = flow_weights.latent_cover(cover)
    assert lat.shape == (2, 1, 3, 2, 3)
    assert lat[0, 0, 0, 0, 0] == 0.25 and lat[0, 0, 1, 1, 2] == 1.0 and lat[1, 0, 2, 1, 2] == 0.5
    assert lat.sum() == 1.75                   # nothing else is covered


def test_latent_cover_refuses_other_shapes():
    with pytest.raises(ValueError):
        flow_weights.latent_cover(torch.zeros(1, 1, 8, 16, 16))
    with pytest.raises(ValueError):
        flow_weights.latent_cover(torch.zeros(1, 1, 9, 12, 16))


def test_weighted_mse_weights_the_covered_positions():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 4, 3, 2, 3), torch.randn(2, 4, 3, 2, 3)
    cover = torch.zeros(2, 1, 3, 2, 3)
    assert torch.equal(flow_weights.weighted_mse(pred, target, cover, 0.0), torch.nn.functional.mse_loss(pred, target))
    assert torch.allclose(flow_weights.weighted_mse(pred, target, cover, 5.0), torch.nn.functional.mse_loss(pred, target))
    # an error only where the shape is counts more with a larger weight
    err = torch.zeros_like(pred)
    cover[0, 0, 1, 1, 1] = 1.0
    err[0, :, 1, 1, 1] = 1.0
    low = flow_weights.weighted_mse(err, torch.zeros_like(err), cover, 1.0)
    high = flow_weights.weighted_mse(err, torch.zeros_like(err), cover, 9.0)
    assert high > low > torch.nn.functional.mse_loss(err, torch.zeros_like(err))
