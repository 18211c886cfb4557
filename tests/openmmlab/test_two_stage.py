"""Our loss in two-stage RoI heads (mmdet's stock BBoxHead, background LAST), the two-stage
configs, and the BackgroundPrior initializer."""
import glob
import json
import math
import os

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("mmdet")
from mmdet.registry import MODELS  # noqa: E402
from mmdet.testing import demo_mm_inputs  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402

from imbalanced_losses.heads.priors import background_prior_bias  # noqa: E402
from imbalanced_losses.mmdet import OpenMMLabSoftmaxFocalLoss  # noqa: E402  (registers it)
from tests.paths import ROOT, STUDY
from tests.tolerances import approx_reordered, assert_close_reordered  # noqa: E402

TWIN_CONFIGS = sorted(glob.glob(os.path.join(STUDY, "configs", "faster-rcnn_*.py")))
FULL_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "faster_rcnn", "*.py"))
                      + glob.glob(os.path.join(ROOT, "configs", "lvis", "*.py")))
CE_TWIN = os.path.join(STUDY, "configs", "faster-rcnn_r18-half_fpn_ce_longtail.py")
OURS_TWIN = os.path.join(STUDY, "configs", "faster-rcnn_r18-half_fpn_softmax-focal_longtail.py")
PRIOR_TWIN = os.path.join(STUDY, "configs", "faster-rcnn_r18-half_fpn_softmax-focal-prior_longtail.py")
K = 16
register_all_modules()


def fake_annotation_file(path, num_classes):
    """A COCO/LVIS-style training file: category ids 1..K in file order, class k with k % 50 + 1 instances."""
    categories = [dict(id=i + 1, name=f"class_{i}", frequency="r") for i in range(num_classes)]
    annotations = [dict(id=len(categories) * 10 + i * 1000 + j, image_id=1, category_id=i + 1, bbox=[0, 0, 5, 5],
                        area=25.0, iscrowd=0) for i in range(num_classes) for j in range(i % 50 + 1)]
    path.write_text(json.dumps(dict(images=[dict(id=1, file_name="1.png", width=10, height=10)],
                                    categories=categories, annotations=annotations)))
    return str(path)


def load_config(config_path, tmp_path):
    cfg = Config.fromfile(config_path)
    cfg.model.backbone.init_cfg = None  # nothing can be downloaded here
    loss_cls = cfg.model.roi_head.bbox_head.loss_cls
    if isinstance(loss_cls.get("alpha"), dict):  # counts read from a file: a stand-in training file
        num_classes = cfg.model.roi_head.bbox_head.num_classes
        loss_cls.alpha.ann_file = fake_annotation_file(tmp_path / "train.json", num_classes)
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def batch(model, num_classes, with_mask=False, seed=0, training=True):
    packed = demo_mm_inputs(batch_size=2, image_shapes=(3, 128, 128), num_items=[3, 2], num_classes=num_classes,
                            with_mask=with_mask)
    torch.manual_seed(seed)
    return model.data_preprocessor(packed, training=training)


def total_loss(losses):
    return sum(v.sum() if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items() if "loss" in k)


@pytest.mark.parametrize("config_path", TWIN_CONFIGS + FULL_CONFIGS, ids=os.path.basename)
def test_two_stage_config_builds_trains_a_step_and_predicts(config_path, tmp_path):
    cfg = load_config(config_path, tmp_path)
    assert cfg.custom_imports.imports == ["imbalanced_losses.mmdet"]
    head_cfg = cfg.model.roi_head.bbox_head
    num_classes = head_cfg.num_classes
    model = build(cfg)
    loss = model.roi_head.bbox_head.loss_cls
    if head_cfg.loss_cls.type == "SoftmaxFocalLoss":
        assert isinstance(loss, OpenMMLabSoftmaxFocalLoss)
        assert loss.background_class == num_classes and loss.reduction == "mean_positive"
        assert model.roi_head.bbox_head.fc_cls.out_features == num_classes + 1  # background last
        if isinstance(head_cfg.loss_cls.alpha, dict):  # K + 1 weights, background (weight 1) last
            assert loss.alpha.shape == (num_classes + 1,) and loss.alpha[-1].item() == 1.0
            assert loss.alpha[0] > loss.alpha[num_classes - 1]  # class 0 has 1 instance, the last more
    with_mask = "mask_head" in cfg.model.roi_head
    model.train()
    losses = model(**batch(model, num_classes, with_mask), mode="loss")
    total_loss(losses).backward()
    assert all(torch.isfinite(torch.as_tensor(v if isinstance(v, torch.Tensor) else sum(v))).all()
               for v in losses.values())
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        results = model(**batch(model, num_classes, with_mask, training=False), mode="predict")
    assert len(results) == 2 and all(hasattr(r, "pred_instances") for r in results)
    for r in results:
        assert ((r.pred_instances.labels >= 0) & (r.pred_instances.labels < num_classes)).all()


def test_full_configs_inherit_mmdet_and_only_swap_the_roi_classification_loss():
    coco, lvis = FULL_CONFIGS
    assert "faster-rcnn_r50" in coco and "lvis" in lvis
    cfg = Config.fromfile(coco)
    assert cfg.model.roi_head.bbox_head.loss_cls.background_class == 80
    assert cfg.model.roi_head.bbox_head.type == "Shared2FCBBoxHead"
    assert cfg.train_dataloader.dataset.type == "CocoDataset"
    cfg = Config.fromfile(lvis)
    head = cfg.model.roi_head.bbox_head
    assert head.num_classes == 1203 and head.loss_cls.background_class == 1203
    assert head.loss_cls.alpha.type == "class_balanced"
    assert head.loss_cls.alpha.ann_file == "data/lvis_v1/annotations/lvis_v1_train.json"
    # mmdet's sample1e-3 (repeat-factor sampling) is kept
    assert cfg.train_dataloader.dataset.type == "ClassBalancedDataset"
    assert cfg.train_dataloader.dataset.oversample_thr == 1e-3
    assert cfg.train_dataloader.dataset.dataset.type == "LVISV1Dataset"


# ---------------------------------------------------------------- what reaches the loss in a RoI head


def capture_roi_head(model):
    """Record the sampling results of the RoI head and every call of its loss_cls."""
    seen = dict(sampling=[], calls=[])
    roi_head, loss_cls = model.roi_head, model.roi_head.bbox_head.loss_cls
    bbox_loss, forward = roi_head.bbox_loss, loss_cls.forward

    def recording_bbox_loss(x, sampling_results):
        seen["sampling"].append(sampling_results)
        return bbox_loss(x, sampling_results)

    def recording_forward(cls_score, labels, weight=None, **kwargs):
        seen["calls"].append(dict(cls_score=cls_score, labels=labels, weight=weight, **kwargs))
        return forward(cls_score, labels, weight, **kwargs)

    roi_head.bbox_loss = recording_bbox_loss
    loss_cls.forward = recording_forward
    return seen


def test_roi_head_passes_sampled_rois_with_background_last():
    """One call per batch: the sampled RoIs of both images, positives with their gt's class,
    negatives with label K, weight 1 each, avg_factor = #RoIs; nothing else reaches the loss."""
    cfg = Config.fromfile(OURS_TWIN)
    model = build(cfg)
    seen = capture_roi_head(model)
    data = batch(model, K)
    losses = model(**data, mode="loss")
    assert len(seen["calls"]) == 1 and len(seen["sampling"]) == 1
    call, sampling = seen["calls"][0], seen["sampling"][0]
    expected = []
    for result, sample in zip(sampling, data["data_samples"]):
        gt_labels = sample.gt_instances.labels
        expected += [gt_labels[result.pos_assigned_gt_inds], torch.full((len(result.neg_inds),), K)]
        sampler = cfg.model.train_cfg.rcnn.sampler
        assert len(result.pos_inds) + len(result.neg_inds) <= sampler.num
        assert len(result.pos_inds) <= sampler.num * sampler.pos_fraction + len(gt_labels)
    expected = torch.cat(expected)
    assert torch.equal(call["labels"], expected)
    assert call["cls_score"].shape == (len(expected), K + 1)
    assert torch.equal(call["weight"], torch.ones(len(expected)))
    assert call["avg_factor"] == len(expected) and call["reduction_override"] is None
    positives = int((expected < K).sum())
    assert 0 < positives < len(expected)
    # mean_positive over the sampled RoIs: the sum over all of them / the positive ones
    scores = call["cls_score"].detach().double()
    log_p = scores.log_softmax(-1)
    p_t = log_p.gather(1, expected[:, None]).exp().squeeze(1)
    reference = ((1 - p_t) ** 2 * -log_p.gather(1, expected[:, None]).squeeze(1)).sum() / positives
    assert losses["loss_cls"].item() == pytest.approx(reference.item(), rel=1e-5)


def test_stock_ce_and_ours_with_gamma_0_give_the_same_loss_on_the_same_rois():
    """Same seed, same batch -> same RoIs. mmdet's CE divides by avg_factor = #sampled RoIs (+ a float32
    eps, mmdet's weight_reduce_loss); ours with reduction='mean' does the same with avg_factor, and
    'mean_positive' divides the same sum by the positive RoIs instead."""
    ce_cfg = Config.fromfile(CE_TWIN)
    ours_cfg = Config.fromfile(OURS_TWIN)
    results = {}
    for name, reduction in [("ce", None), ("mean", "mean"), ("mean_positive", "mean_positive")]:
        cfg = ce_cfg if reduction is None else ours_cfg.copy()
        if reduction is not None:
            cfg.model.roi_head.bbox_head.loss_cls.update(gamma=0.0, reduction=reduction)
        model = build(cfg)
        seen = capture_roi_head(model)
        losses = model(**batch(model, K), mode="loss")
        losses["loss_cls"].backward()
        results[name] = (losses, seen["calls"][0], model.roi_head.bbox_head.fc_cls.weight.grad.clone())
    ce, call, ce_grad = results["ce"]
    assert isinstance(build(ce_cfg).roi_head.bbox_head.loss_cls, MODELS.get("CrossEntropyLoss"))
    for name in ("mean", "mean_positive"):
        assert torch.equal(results[name][1]["labels"], call["labels"])  # the same RoIs, the same targets
        assert torch.equal(results[name][1]["cls_score"], call["cls_score"])
    # mmdet's CE (per-RoI losses, then a weighted sum) and ours add in other orders
    assert_close_reordered(results["mean"][0]["loss_cls"], ce["loss_cls"])
    assert_close_reordered(results["mean"][2], ce_grad)
    for key in ("loss_bbox", "loss_rpn_cls", "acc"):
        torch.testing.assert_close(results["mean"][0][key], ce[key])
    expected_sum = F.cross_entropy(call["cls_score"].detach(), call["labels"], reduction="sum")
    positives = int((call["labels"] < K).sum())
    assert ce["loss_cls"].item() == approx_reordered(expected_sum.item() / call["avg_factor"])
    assert results["mean_positive"][0]["loss_cls"].item() == approx_reordered(expected_sum.item() / positives)


def test_bbox_head_loss_with_reduction_override_and_zero_label_weights():
    """BBoxHead.loss forwards reduction_override to loss_cls; a RoI with label weight 0 is ignored."""
    cfg = Config.fromfile(OURS_TWIN)
    cfg.model.roi_head.bbox_head.loss_cls.update(gamma=0.0)
    head = build(cfg).roi_head.bbox_head
    gen = torch.Generator().manual_seed(0)
    n = 12
    cls_score = torch.randn(n, K + 1, generator=gen)
    labels = torch.tensor([3, K, K, 0, K, 15, K, K, 7, K, K, K])
    label_weights = torch.ones(n)
    label_weights[1] = 0.0
    bbox_pred = torch.randn(n, 4 * K, generator=gen)
    rois = torch.cat([torch.zeros(n, 1), torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(n, 1)], 1)
    bbox_targets, bbox_weights = torch.zeros(n, 4), (labels < K).float()[:, None].repeat(1, 4)
    losses = head.loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets, bbox_weights,
                       reduction_override="none")
    expected = F.cross_entropy(cls_score, labels, reduction="none") * label_weights
    torch.testing.assert_close(losses["loss_cls"], expected)
    losses = head.loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets, bbox_weights)
    assert losses["loss_cls"].item() == approx_reordered(expected.sum().item() / 4)  # 4 positives


def test_predict_scores_are_softmax_without_the_last_column():
    """With fc_cls answering class 5 (logit 3), background 1, others 0 for every RoI, each detection
    is class 5 with score softmax(logits)[5]; background-last is read as mmdet's stock heads read it."""
    cfg = Config.fromfile(OURS_TWIN)
    model = build(cfg)
    fc_cls = model.roi_head.bbox_head.fc_cls
    logits = torch.zeros(K + 1)
    logits[5], logits[K] = 3.0, 1.0
    with torch.no_grad():
        fc_cls.weight.zero_()
        fc_cls.bias.copy_(logits)
    model.eval()
    with torch.no_grad():
        results = model(**batch(model, K, training=False), mode="predict")
    expected = logits.softmax(0)[5].item()
    for r in results:
        assert len(r.pred_instances) > 0
        assert (r.pred_instances.labels == 5).all()
        torch.testing.assert_close(r.pred_instances.scores, torch.full_like(r.pred_instances.scores, expected))


# ---------------------------------------------------------------- BackgroundPrior


def test_background_prior_changes_only_the_fc_cls_bias():
    stock, prior = build(Config.fromfile(OURS_TWIN)), build(Config.fromfile(PRIOR_TWIN))
    pi = Config.fromfile(PRIOR_TWIN).model.roi_head.bbox_head.init_cfg[0].prior
    stock_state, prior_state = stock.state_dict(), prior.state_dict()
    assert stock_state.keys() == prior_state.keys()
    differing = [k for k in stock_state if not torch.equal(stock_state[k], prior_state[k])]
    assert differing == ["roi_head.bbox_head.fc_cls.bias"]
    bias = prior_state["roi_head.bbox_head.fc_cls.bias"]
    probabilities = bias.double().softmax(0)
    assert probabilities[-1].item() == pytest.approx(1 - pi, rel=1e-6)
    torch.testing.assert_close(probabilities[:-1], torch.full((K,), pi / K, dtype=torch.float64))
    assert stock_state["roi_head.bbox_head.fc_cls.bias"].abs().max() == 0  # mmdet's init: uniform scores


def test_background_prior_initializer_first_channel_and_bad_arguments():
    from mmengine.model import initialize
    conv = torch.nn.Conv2d(4, 9, 3)
    initialize(conv, dict(type="BackgroundPrior", prior=0.01, background_class=0, std=0.02, layer="Conv2d"))
    assert conv.bias[0].item() == pytest.approx(math.log(8 * 0.99 / 0.01)) and (conv.bias[1:] == 0).all()
    assert 0.015 < conv.weight.std().item() < 0.025
    assert background_prior_bias(8, 0.01) == pytest.approx(math.log(8 * 0.99 / 0.01))
    for prior, error in ((0, ValueError), (1, ValueError), (1.5, ValueError), (True, TypeError), ("0.1", TypeError)):
        with pytest.raises(error, match="^prior must be a number in \\(0, 1\\), got"):
            initialize(conv, dict(type="BackgroundPrior", prior=prior, layer="Conv2d"))
    with pytest.raises(ValueError, match="background_class=9 within the 9 outputs"):
        initialize(conv, dict(type="BackgroundPrior", background_class=9, layer="Conv2d"))
    with pytest.raises(ValueError, match="^background_prior must be a number in \\(0, 1\\), got 1.5"):
        MODELS.build(dict(type="SoftmaxRetinaHead", num_classes=3, in_channels=8, background_prior=1.5,
                          loss_cls=dict(type="SoftmaxFocalLoss", background_class=0)))
    with pytest.raises(ValueError, match="^std must be a number >= 0, got -0.1"):
        initialize(conv, dict(type="BackgroundPrior", std=-0.1, layer="Conv2d"))
    with pytest.raises(TypeError, match="background_class must be an int"):
        initialize(conv, dict(type="BackgroundPrior", background_class=1.0, layer="Conv2d"))


def test_guide_two_stage_fragment_configures_a_stock_faster_rcnn(tmp_path):
    """The MMDetection guide's copyable fragment, on top of mmdet's own Faster R-CNN config, gives
    our loss with the background last in the stock Shared2FCBBoxHead."""
    guide = open(os.path.join(ROOT, "docs", "guides", "mmdetection.md")).read()
    section = guide.split("## Two-stage detectors")[1]
    fragment = section.split("```python\n")[1].split("```")[0]
    config = tmp_path / "faster_rcnn_ours.py"
    config.write_text("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n" + fragment)
    cfg = Config.fromfile(str(config))
    head_cfg = cfg.model.roi_head.bbox_head
    assert head_cfg.type == "Shared2FCBBoxHead" and head_cfg.num_classes == 80
    loss = MODELS.build(head_cfg.loss_cls)
    assert isinstance(loss, OpenMMLabSoftmaxFocalLoss) and loss.background_class == head_cfg.num_classes
    assert loss.reduction == "mean_positive" and loss.gather_distributed is True
    assert set(head_cfg.loss_cls) == {"type", "gamma", "reduction", "background_class", "gather_distributed",
                                      "loss_weight"}  # _delete_ dropped mmdet's CrossEntropyLoss keys


@pytest.mark.parametrize("background_class,fails", [(K, False), (0, True)])
def test_a_stock_roi_head_takes_the_background_last_and_refuses_it_first(background_class, fails):
    """Shared2FCBBoxHead's labels put the background last (label K): background_class=K trains,
    background_class=0 fails at the first loss, naming the fix."""
    cfg = Config.fromfile(OURS_TWIN)
    cfg.model.roi_head.bbox_head.loss_cls.update(background_class=background_class, reduction="mean_positive")
    head = build(cfg).roi_head.bbox_head
    n = 6
    cls_score = torch.randn(n, K + 1, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([3, K, K, 0, K, 7])
    rois = torch.cat([torch.zeros(n, 1), torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(n, 1)], 1)
    args = (cls_score, torch.randn(n, 4 * K), rois, labels, torch.ones(n), torch.zeros(n, 4),
            (labels < K).float()[:, None].repeat(1, 4))
    if fails:
        with pytest.raises(ValueError, match=rf"background LAST \(label {K} of {K + 1} columns.*"
                                             rf"background_class={K} \(num_classes\)"):
            head.loss(*args)
    else:
        assert torch.isfinite(head.loss(*args)["loss_cls"])
