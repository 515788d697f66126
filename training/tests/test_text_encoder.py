"""The attribute head and loss (training/text_encoder.py); skipped where torch is not installed (CI)."""
import os
import sys

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import text_encoder  # noqa: E402
import text_split  # noqa: E402


def test_pooling_sees_only_the_valid_rows():
    torch.manual_seed(0)
    head = text_encoder.AttributeHead(8)
    out = torch.randn(2, 5, 8)
    lens = torch.tensor([3, 5])
    a = head(out, lens)
    out2 = out.clone()
    out2[0, 3:] = 1e3            # padding rows of the first caption
    b = head(out2, lens)
    for x, y in zip(a, b):
        assert torch.allclose(x, y)
    single = head(out[:1, :3], lens[:1])
    assert torch.allclose(single[0], a[0][:1], atol=1e-6)


def test_loss_ignores_unnamed_attributes_and_empty_captions():
    torch.manual_seed(1)
    logits = [torch.randn(3, len(c), requires_grad=True) for c in text_split.CLASSES]
    labels = torch.tensor([[0, 1, 2, text_split.IGNORE], [1, 0, 0, 3], [text_split.IGNORE] * 4])
    loss = text_encoder.attribute_loss(logits, labels)
    loss.backward()
    assert torch.isfinite(loss)
    for g in logits:
        assert g.grad[2].abs().max() == 0          # the empty caption teaches nothing
    assert logits[3].grad[0].abs().max() == 0     # an unsaid background teaches nothing
    want = sum(torch.nn.functional.cross_entropy(lg[:2], labels[:2, j]) for j, lg in enumerate(logits[:3]))
    want = want + torch.nn.functional.cross_entropy(logits[3][1:2], labels[1:2, 3])
    assert torch.allclose(loss, want)
