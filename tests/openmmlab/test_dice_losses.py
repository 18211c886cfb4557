"""Which of mmseg 1.2.2's Dice losses masks the ignored pixels: against a float64 per-class soft
Dice computed on the valid pixels only (per image, averaged over classes and images, with
TverskyLoss's smoothing). ``TverskyLoss(alpha=0.5, beta=0.5)`` is that Dice; ``DiceLoss(
ignore_index=255)`` is not (it one-hot encodes 255 as an extra class that it then drops, so the
ignored pixels' predicted mass stays in its denominators, and it takes one Dice over all classes)."""
import pytest
import torch

pytest.importorskip("mmseg")
from mmseg.models.losses import DiceLoss, TverskyLoss  # noqa: E402

IGNORE = 255


def reference_dice(logits, labels, smooth=1.0):
    """1 - mean over images and classes of (TP + s) / (TP + FP / 2 + FN / 2 + s) on valid pixels."""
    p = torch.softmax(logits.double(), 1)
    valid = (labels != IGNORE).double()[:, None]
    y = torch.nn.functional.one_hot(labels.clamp(max=logits.shape[1] - 1), logits.shape[1]).movedim(-1, 1).double()
    tp = (p * y * valid).sum((2, 3))
    fp = (p * (1 - y) * valid).sum((2, 3))
    fn = ((1 - p) * y * valid).sum((2, 3))
    return 1 - ((tp + smooth) / (tp + 0.5 * fp + 0.5 * fn + smooth)).mean()


@pytest.fixture
def case():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 16, 16, generator=gen) * 2
    labels = torch.randint(0, 5, (2, 16, 16), generator=gen)
    labels[:, 4:8] = IGNORE  # a quarter of the pixels ignored, as a thick ignore band would
    return logits, labels


def test_tversky_half_half_is_the_per_class_dice_on_valid_pixels(case):
    logits, labels = case
    ours = TverskyLoss(alpha=0.5, beta=0.5, ignore_index=IGNORE)(logits, labels)
    torch.testing.assert_close(ours.double(), reference_dice(logits, labels), rtol=1e-5, atol=1e-6)


def test_dice_loss_lets_the_ignored_pixels_in(case):
    logits, labels = case
    dice = DiceLoss(use_sigmoid=False, ignore_index=IGNORE)(logits, labels)
    assert abs(dice.item() - reference_dice(logits, labels).item()) > 1e-2  # 0.018 here; Tversky's is < 1e-6
    # what it depends on: the logits at ignored pixels move it, which a masked loss never does
    moved = logits.clone()
    moved[:, :, 4:8] = torch.randn(2, 5, 4, 16, generator=torch.Generator().manual_seed(1)) * 5
    assert DiceLoss(use_sigmoid=False, ignore_index=IGNORE)(moved, labels).item() != pytest.approx(dice.item())
    tversky = TverskyLoss(alpha=0.5, beta=0.5, ignore_index=IGNORE)
    assert tversky(moved, labels).item() == pytest.approx(tversky(logits, labels).item(), rel=1e-6)
