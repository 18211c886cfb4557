"""Seesaw's terms in the OpenMMLab adapter, against mmdet's own SeesawLoss (an independent
implementation): at gamma 0 ours equals ``seesaw_ce_loss`` on the positives, and with the
objectness split and counts accumulated from zero it equals ``SeesawLoss`` call after call (losses,
accuracies, activation, channels); the config forms of the counts and offsets read the files."""
import json

import pytest
import torch

pytest.importorskip("mmdet")
from mmdet.models.losses import SeesawLoss  # noqa: E402
from mmdet.models.losses.seesaw_loss import seesaw_ce_loss  # noqa: E402

from imbalanced_losses import logit_adjustment_offsets, softmax_focal_loss  # noqa: E402
from imbalanced_losses.openmmlab import OpenMMLabSoftmaxFocalLoss  # noqa: E402

K = 6


def detector_batch(seed, n=48):
    """RoI labels in [0, K], K the background (mmdet's two-stage convention), every class present."""
    gen = torch.Generator().manual_seed(seed)
    cls_score = torch.randn(n, K + 2, generator=gen) * 2
    labels = torch.randint(0, K + 1, (n,), generator=gen)
    labels[:K + 1] = torch.arange(K + 1)
    return cls_score, labels


@pytest.mark.parametrize("p, q", [(0.8, 2.0), (0.8, 0.0), (0.0, 2.0)])
def test_gamma_0_equals_mmdets_seesaw_ce_loss_on_the_positives(p, q):
    cls_score, labels = detector_batch(0)
    positive = labels < K
    scores, targets = cls_score[positive, :K], labels[positive]
    counts = torch.tensor([500.0, 120.0, 30.0, 8.0, 2.0, 0.0])
    expected = seesaw_ce_loss(scores, targets, torch.ones(len(targets)), counts, K, p, q, 1e-2, reduction="none")
    ours = softmax_focal_loss(scores.double(), targets, gamma=0.0, reduction="none", seesaw_p=p, seesaw_q=q,
                              class_counts=counts, background_class=-1)
    torch.testing.assert_close(ours, expected.double(), rtol=1e-5, atol=1e-6)


def test_the_objectness_split_equals_mmdets_seesaw_loss_call_after_call():
    ours = OpenMMLabSoftmaxFocalLoss(gamma=0.0, reduction="mean", objectness_split=True, num_classes=K,
                                     seesaw_p=0.8, seesaw_q=2.0, class_counts=[0] * K, accumulate_counts=True,
                                     loss_weight=1.0)
    theirs = SeesawLoss(p=0.8, q=2.0, num_classes=K, loss_weight=1.0, return_dict=True)
    assert ours.custom_cls_channels and ours.custom_activation and ours.custom_accuracy
    assert ours.get_cls_channels(K) == theirs.get_cls_channels(K) == K + 2
    for seed in range(3):  # the counts grow with every call, in both
        cls_score, labels = detector_batch(seed)
        weights = torch.ones(len(labels))
        mine = ours(cls_score, labels, weights, avg_factor=len(labels))
        reference = theirs(cls_score, labels, weights, avg_factor=len(labels))
        assert set(mine) == set(reference) == {"loss_cls_classes", "loss_cls_objectness"}
        for name in mine:
            torch.testing.assert_close(mine[name], reference[name], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.class_counts.float(), theirs.cum_samples[:K])
        accuracy, reference_accuracy = ours.get_accuracy(cls_score, labels), theirs.get_accuracy(cls_score, labels)
        for name in reference_accuracy:
            torch.testing.assert_close(accuracy[name], reference_accuracy[name])
    torch.testing.assert_close(ours.get_activation(cls_score), theirs.get_activation(cls_score))


def test_mean_positive_divides_both_terms_by_the_positives():
    cls_score, labels = detector_batch(4)
    loss = OpenMMLabSoftmaxFocalLoss(gamma=2.0, reduction="mean_positive", objectness_split=True, num_classes=K)
    losses = loss(cls_score, labels)
    positive = labels < K
    objectness = softmax_focal_loss(cls_score[:, K:], (labels == K).long(), reduction="sum") / positive.sum()
    classes = softmax_focal_loss(cls_score[positive, :K], labels[positive], reduction="sum") / positive.sum()
    torch.testing.assert_close(losses["loss_cls_objectness"], objectness)
    torch.testing.assert_close(losses["loss_cls_classes"], classes)


def test_split_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="objectness_split=True needs num_classes"):
        OpenMMLabSoftmaxFocalLoss(objectness_split=True)
    loss = OpenMMLabSoftmaxFocalLoss(objectness_split=True, num_classes=K)
    with pytest.raises(ValueError, match="the head has num_classes=5, the loss num_classes=6"):
        loss.get_cls_channels(5)
    with pytest.raises(ValueError, match=r"needs cls_score with num_classes \+ 2 = 8 columns, got shape \(4, 7\)"):
        loss(torch.randn(4, K + 1), torch.zeros(4, dtype=torch.long))


def test_config_forms_read_the_counts_from_the_annotation_file(tmp_path):
    annotations = dict(
        images=[dict(id=i, file_name=f"{i}.png", width=8, height=8) for i in range(4)],
        categories=[dict(id=3, name="a"), dict(id=7, name="b"), dict(id=9, name="c")],
        annotations=[dict(id=n, image_id=n % 4, category_id=c, bbox=[0, 0, 2, 2], area=4, iscrowd=0)
                     for n, c in enumerate([3] * 6 + [7] * 3 + [9])])
    ann_file = tmp_path / "train.json"
    ann_file.write_text(json.dumps(annotations))
    loss = OpenMMLabSoftmaxFocalLoss(background_class=3, seesaw_p=0.8,
                                     class_counts=dict(type="class_counts", ann_file=str(ann_file)),
                                     logit_offsets=dict(type="logit_adjustment", ann_file=str(ann_file), tau=0.5))
    assert loss.class_counts.tolist() == [6.0, 3.0, 1.0, 0.0]  # the background (last) counts nothing
    torch.testing.assert_close(loss.logit_offsets, logit_adjustment_offsets([6, 3, 1, 0], 0.5, background_class=3))
    split = OpenMMLabSoftmaxFocalLoss(objectness_split=True, num_classes=3,
                                      class_counts=dict(type="class_counts", ann_file=str(ann_file)))
    assert split.class_counts.tolist() == [6.0, 3.0, 1.0]  # the class term has no background column
    with pytest.raises(ValueError, match="logit_offsets as a dict must have type='logit_adjustment', got 'prior'"):
        OpenMMLabSoftmaxFocalLoss(logit_offsets=dict(type="prior", ann_file=str(ann_file)))
    with pytest.raises(ValueError, match="class_counts as a dict must be dict"):
        OpenMMLabSoftmaxFocalLoss(class_counts=dict(type="class_counts", file=str(ann_file)))
