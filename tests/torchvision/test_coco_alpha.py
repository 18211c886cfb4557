"""coco_class_balanced_alpha: class-balanced alpha indexed by category id, the background at 0,
against Cui et al.'s formula computed here by hand; bad files and arguments named."""
import json
import math

import pytest
import torch

pytest.importorskip("torchvision")
from imbalanced_losses import SoftmaxFocalLoss  # noqa: E402
from imbalanced_losses.torchvision import coco_class_balanced_alpha  # noqa: E402


def write_coco(path, counts):
    """A training file with ``counts[id]`` non-crowd boxes of each category id (and one crowd box each)."""
    annotations = []
    for category, n in counts.items():
        for k in range(n + 1):
            annotations.append(dict(id=len(annotations) + 1, image_id=1, category_id=category, bbox=[0, 0, 4, 4],
                                    iscrowd=int(k == n)))
    path.write_text(json.dumps(dict(images=[dict(id=1, file_name="1.png", width=8, height=8)],
                                    categories=[dict(id=i, name=f"c{i}") for i in counts],
                                    annotations=annotations)))
    return str(path)


def test_alpha_is_indexed_by_category_id_with_the_background_at_0(tmp_path):
    ann_file = write_coco(tmp_path / "train.json", {1: 100, 3: 10, 7: 1})
    alpha = coco_class_balanced_alpha(ann_file, beta=0.99, mean=0.25, background_weight=0.75)
    inverse = {i: (1 - 0.99) / (1 - 0.99 ** n) for i, n in {1: 100, 3: 10, 7: 1}.items()}
    scale = 0.25 * 3 / math.fsum(inverse.values())
    expected = torch.full((8,), 0.25)  # ids 2, 4, 5, 6: no category, never a target
    expected[0] = 0.75
    for i, w in inverse.items():
        expected[i] = w * scale
    torch.testing.assert_close(alpha, expected, rtol=1e-6, atol=0)
    assert alpha.shape == (8,) and alpha[7] > alpha[3] > alpha[1]
    wider = coco_class_balanced_alpha(ann_file, beta=0.99, mean=0.25, background_weight=0.75, num_classes=91)
    torch.testing.assert_close(wider[:8], alpha)
    assert (wider[8:] == 0.25).all()
    # default background weight: the mean; it drops into the loss as alpha
    assert coco_class_balanced_alpha(ann_file, beta=0.99)[0].item() == pytest.approx(1.0)
    loss = SoftmaxFocalLoss(alpha=alpha, reduction="mean_positive")
    assert torch.isfinite(loss(torch.randn(6, 8), torch.tensor([0, 1, 3, 7, 0, 1])))


def test_bad_files_and_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"zero.json has a category with id 0: .* must be >= 1"):
        coco_class_balanced_alpha(write_coco(tmp_path / "zero.json", {0: 3, 1: 2}))
    with pytest.raises(ValueError, match=r"empty.json: categories \[2\] have no training instances"):
        coco_class_balanced_alpha(write_coco(tmp_path / "empty.json", {1: 3, 2: 0}))
    ann_file = write_coco(tmp_path / "train.json", {1: 3, 5: 2})
    with pytest.raises(ValueError, match=r"num_classes must be an int > 5 .* got 5"):
        coco_class_balanced_alpha(ann_file, num_classes=5)
    with pytest.raises(ValueError, match="count must be one of"):
        coco_class_balanced_alpha(ann_file, count="boxes")
    with pytest.raises(ValueError, match="beta must be a real number in"):
        coco_class_balanced_alpha(ann_file, beta=1.5)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="cannot read annotation file .*broken.json"):
        coco_class_balanced_alpha(str(tmp_path / "broken.json"))
