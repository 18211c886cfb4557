"""torchvision's detection models with our loss (``imbalanced_losses.torchvision``), with
torchvision really imported (``make test-torchvision`` runs this folder in its own venv; elsewhere
it skips): the RoI heads' loss is ``fastrcnn_loss``'s at gamma 0, the RetinaNet head's loss is a
float64 reference computed from the matched anchors, predictions are the softmax probabilities
without the background, the DDP normalisation is exact on 2 gloo ranks, and the models run under
torch.compile in eval mode as torchvision's own do."""
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp

torchvision = pytest.importorskip("torchvision")
from torchvision.models.detection import fasterrcnn_resnet50_fpn, retinanet_resnet50_fpn  # noqa: E402
from torchvision.models.detection.roi_heads import fastrcnn_loss  # noqa: E402

from imbalanced_losses import SoftmaxFocalLoss  # noqa: E402
from imbalanced_losses.torchvision import (  # noqa: E402
    SoftmaxFocalRoIHeads,
    SoftmaxRetinaNetClassificationHead,
    softmax_focal_roi_heads,
    softmax_retinanet,
)
from tests.reference import reference_focal_loss  # noqa: E402

NUM_CLASSES = 5  # torchvision's count: the background (0) and 4 classes
SMALL = dict(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, min_size=96, max_size=96)


def images_and_targets(seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, 96, 96, generator=gen) for _ in range(2)]
    targets = [dict(boxes=torch.tensor([[8.0, 8, 50, 50], [30, 40, 90, 92], [60, 5, 90, 30]]),
                    labels=torch.tensor([1, 3, 4])),
               dict(boxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))]  # an image without boxes
    return images, targets


def test_roi_heads_at_gamma_0_give_fastrcnn_loss():
    torch.manual_seed(0)
    stock = fasterrcnn_resnet50_fpn(**SMALL).train()
    ours = softmax_focal_roi_heads(fasterrcnn_resnet50_fpn(**SMALL).train(), gamma=0.0)
    ours.load_state_dict(stock.state_dict())
    assert isinstance(ours.roi_heads, SoftmaxFocalRoIHeads)
    images, targets = images_and_targets()
    torch.manual_seed(1)  # the same proposals sampled in both
    expected = stock(images, targets)
    torch.manual_seed(1)
    losses = ours(images, targets)
    assert set(losses) == set(expected)
    for name in expected:
        torch.testing.assert_close(losses[name], expected[name], rtol=1e-5, atol=1e-6)


def test_roi_heads_loss_is_ours_on_the_sampled_rois():
    """What the head passes: the box predictor's logits and the sampled labels (0 background)."""
    torch.manual_seed(0)
    model = softmax_focal_roi_heads(fasterrcnn_resnet50_fpn(**SMALL), gamma=2.0, alpha=[1.0, 0.5, 0.5, 2.0, 2.0])
    seen = {}
    model.roi_heads.box_predictor.register_forward_hook(lambda m, i, o: seen.update(logits=o[0]))
    sample = model.roi_heads.select_training_samples

    def recording(proposals, targets):
        result = sample(proposals, targets)
        seen.update(labels=torch.cat(result[2]))
        return result
    model.roi_heads.select_training_samples = recording
    losses = model.train()(*images_and_targets())
    labels = seen["labels"]
    assert (labels == 0).any() and (labels > 0).any()
    expected, _ = reference_focal_loss(seen["logits"], labels, alpha=[1.0, 0.5, 0.5, 2.0, 2.0], gamma=2.0)
    assert losses["loss_classifier"].item() == pytest.approx(expected.item(), rel=1e-5)
    _, box_loss = fastrcnn_loss(seen["logits"], torch.zeros(len(labels), 4 * NUM_CLASSES), [labels],
                                [torch.zeros(len(labels), 4)])
    assert box_loss.item() == 0.0  # (the box loss stays torchvision's: nothing of ours in it)


def matched_case(seed):
    """Head outputs for 2 images and matched indices with every kind of anchor: matched boxes,
    background (-1), between the thresholds (-2); the second image has no boxes (all -1)."""
    gen = torch.Generator().manual_seed(seed)
    anchors = 60
    cls_logits = torch.randn(2, anchors, NUM_CLASSES, generator=gen) * 2
    matched = torch.randint(-2, 3, (anchors,), generator=gen)
    targets = [dict(labels=torch.tensor([2, 4, 1])), dict(labels=torch.zeros(0, dtype=torch.long))]
    return dict(cls_logits=cls_logits), [matched, torch.full((anchors,), -1)], targets


def anchor_labels_by_hand(matched_idxs, targets):
    labels = []
    for matched, target in zip(matched_idxs, targets):
        for m in matched.tolist():
            labels.append(target["labels"][m].item() if m >= 0 else (-100 if m == -2 else 0))
    return torch.tensor(labels)


@pytest.mark.parametrize("options", [dict(), dict(alpha=[0.75, 0.25, 0.25, 0.25, 0.25], gamma=1.5),
                                     dict(label_smoothing=0.1, reduction="mean")])
def test_retinanet_head_loss_is_the_reference_on_the_matched_anchors(options):
    head = SoftmaxRetinaNetClassificationHead(8, 3, NUM_CLASSES, **options)
    head_outputs, matched_idxs, targets = matched_case(0)
    logits = head_outputs["cls_logits"].clone().requires_grad_()
    loss = head.compute_loss(targets, dict(cls_logits=logits), matched_idxs)
    labels = anchor_labels_by_hand(matched_idxs, targets)
    reference = dict(dict(gamma=2.0, reduction="mean_positive", background_class=0), **options)
    expected, expected_x = reference_focal_loss(head_outputs["cls_logits"].reshape(-1, NUM_CLASSES), labels,
                                                **reference)
    loss.backward()
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    torch.testing.assert_close(logits.grad.reshape(-1, NUM_CLASSES).double(), expected_x.grad, rtol=1e-5, atol=1e-8)


def test_retinanet_predicts_softmax_probabilities_without_the_background():
    torch.manual_seed(0)
    model = softmax_retinanet(retinanet_resnet50_fpn(**SMALL), background_prior=0.5).eval()
    head = model.head.classification_head
    features = [torch.randn(1, 256, 6, 6)]
    with torch.no_grad():
        log_odds = head(features)
        head.train()
        logits = head(features)
    head.eval()
    probabilities = torch.softmax(logits, -1)
    assert torch.equal(torch.sigmoid(log_odds[..., 0]), torch.zeros_like(log_odds[..., 0]))
    torch.testing.assert_close(torch.sigmoid(log_odds[..., 1:]), probabilities[..., 1:], rtol=1e-5, atol=1e-7)
    images, _ = images_and_targets()
    with torch.no_grad():
        detections = model(images)
    assert all(((d["labels"] >= 1) & (d["labels"] < NUM_CLASSES)).all() for d in detections)
    assert sum(len(d["scores"]) for d in detections) > 0  # prior 0.5: classes start at 0.125 > 0.05
    assert all((d["scores"] <= 0.5).all() for d in detections)


def test_swapping_keeps_the_tower_and_starts_at_the_background_prior():
    torch.manual_seed(0)
    stock = retinanet_resnet50_fpn(**SMALL)
    tower = stock.head.classification_head.conv
    model = softmax_retinanet(stock, background_prior=0.01, gamma=1.0)
    head = model.head.classification_head
    assert head.conv is tower and head.loss.gamma == 1.0 and head.loss.reduction == "mean_positive"
    start = torch.softmax(head.cls_logits.bias.view(head.num_anchors, NUM_CLASSES), -1)
    torch.testing.assert_close(start[:, 0], torch.full((head.num_anchors,), 0.99))
    model.train()
    losses = model(*images_and_targets())
    sum(losses.values()).backward()
    assert torch.isfinite(head.cls_logits.weight.grad).all() and head.cls_logits.weight.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="background_class=0"):
        SoftmaxRetinaNetClassificationHead(8, 3, NUM_CLASSES, background_class=2)
    with pytest.raises(ValueError, match=r"background_prior must be a number in \(0, 1\), got 1.5"):
        SoftmaxRetinaNetClassificationHead(8, 3, NUM_CLASSES, background_prior=1.5)
    with pytest.raises(TypeError, match="pass either loss or loss options"):
        softmax_focal_roi_heads(fasterrcnn_resnet50_fpn(**SMALL), loss=SoftmaxFocalLoss(), gamma=1.0)
    with pytest.raises(ValueError, match="num_classes counts the background and at least one class, got 1"):
        SoftmaxRetinaNetClassificationHead(8, 3, 1)


def _rank(rank, world_size, port, out):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        head = SoftmaxRetinaNetClassificationHead(8, 3, NUM_CLASSES, gather_distributed=True)
        head_outputs, matched_idxs, targets = matched_case(0)
        logits = head_outputs["cls_logits"][rank:rank + 1].clone().requires_grad_()
        loss = head.compute_loss(targets[rank:rank + 1], dict(cls_logits=logits), matched_idxs[rank:rank + 1])
        loss.backward()
        torch.save(dict(value=loss.detach(), grad=logits.grad), f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_normalise_by_the_global_positive_count(tmp_path):
    """Image 0 on rank 0, image 1 (no boxes) on rank 1: the value on both ranks is one process's
    on both images, and the DDP-averaged gradient is that process's gradient."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_rank, args=(2, port, str(tmp_path)), nprocs=2, start_method="spawn")
    head = SoftmaxRetinaNetClassificationHead(8, 3, NUM_CLASSES)
    head_outputs, matched_idxs, targets = matched_case(0)
    logits = head_outputs["cls_logits"].clone().requires_grad_()
    expected = head.compute_loss(targets, dict(cls_logits=logits), matched_idxs)
    expected.backward()
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for rank, result in enumerate(ranks):
        assert result["value"].item() == pytest.approx(expected.item(), rel=1e-6)
        torch.testing.assert_close(result["grad"] / 2, logits.grad[rank:rank + 1], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("build", [lambda: softmax_retinanet(retinanet_resnet50_fpn(**SMALL)),
                                   lambda: softmax_focal_roi_heads(fasterrcnn_resnet50_fpn(**SMALL))],
                         ids=["retinanet", "faster_rcnn"])
def test_eval_mode_compiles_as_torchvisions_own(build):
    """torch.compile (dynamo; the eager backend keeps it fast on CPU) of the model in eval mode
    gives the eager detections. (torch.jit.script is deprecated in torch 2.14; our loss, a
    submodule of the heads, is not scriptable.)"""
    torch.manual_seed(0)
    model = build().eval()
    images, _ = images_and_targets()
    torch._dynamo.reset()
    with torch.no_grad():
        expected = model(images)
        compiled = torch.compile(model, backend="eager")(images)
    for got, want in zip(compiled, expected):
        for key in want:
            torch.testing.assert_close(got[key], want[key])


def test_importing_needs_no_openmmlab_package():
    import subprocess
    code = "import sys, imbalanced_losses.torchvision; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "('mmengine', 'mmdet', 'mmseg', 'mmcv')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
