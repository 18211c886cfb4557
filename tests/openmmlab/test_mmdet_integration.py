"""The OpenMMLab integration: registry, adapter protocol, SoftmaxRetinaHead and shipped configs."""
import glob
import math
import os

import pytest
import torch

pytest.importorskip("mmdet")
from mmdet.registry import MODELS  # noqa: E402
from mmdet.testing import demo_mm_inputs  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

from imbalanced_losses import softmax_focal_loss  # noqa: E402
from imbalanced_losses.mmdet import OpenMMLabSoftmaxFocalLoss, SoftmaxRetinaHead  # noqa: E402  (registers them)
from tests.paths import ROOT
from tests.reference import reference_focal_loss  # noqa: E402
from tests.tolerances import assert_close_reordered  # noqa: E402

CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "retinanet", "*.py")))
SHAPES_CONFIG = os.path.join(ROOT, "configs", "retinanet", "retinanet_r18-half_fpn_softmax-focal_30e_shapes.py")
STOCK_CONFIG = os.path.join(ROOT, "configs", "retinanet", "retinanet_r18-half_fpn_sigmoid-focal_30e_shapes.py")
register_all_modules()


def build_model(config_path, **head_overrides):
    cfg = Config.fromfile(config_path)
    cfg.model.backbone.init_cfg = None  # nothing can be downloaded here
    for key, value in head_overrides.items():
        cfg.model.bbox_head[key] = value  # replace, not merge
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def train_step(model, num_classes, num_items=(3, 1)):
    packed = demo_mm_inputs(batch_size=2, image_shapes=(3, 128, 128), num_items=list(num_items),
                            num_classes=num_classes)
    data = model.data_preprocessor(packed, training=True)
    losses = model(**data, mode="loss")
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v) for v in losses.values())
    total.backward()
    return losses


@pytest.mark.parametrize("config_path", CONFIGS, ids=os.path.basename)
def test_shipped_config_builds_trains_and_predicts(config_path):
    cfg = Config.fromfile(config_path)
    assert cfg.custom_imports.imports == ["imbalanced_losses.mmdet"]
    model = build_model(config_path)
    head = model.bbox_head
    if "sigmoid-focal" in config_path:
        assert type(head).__name__ == "RetinaHead" and head.use_sigmoid_cls
    else:
        assert isinstance(head, SoftmaxRetinaHead) and isinstance(head.loss_cls, OpenMMLabSoftmaxFocalLoss)
        assert head.loss_cls.reduction == "mean_positive" and head.loss_cls.background_class == 0
    losses = train_step(model, cfg.model.bbox_head.num_classes)
    assert all(torch.isfinite(torch.stack(list(v) if isinstance(v, list) else [v])).all() for v in losses.values())
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    packed = demo_mm_inputs(batch_size=1, image_shapes=(3, 128, 128), num_classes=cfg.model.bbox_head.num_classes)
    with torch.no_grad():
        data = model.data_preprocessor(packed, training=False)
        results = model(**data, mode="predict")
    assert len(results) == 1 and hasattr(results[0], "pred_instances")


def test_initial_classification_loss_uses_the_background_prior():
    """About -0.25 log(pi / K) per positive at init, not the about 177 that a uniform init gave as
    the first loss of a RetinaNet on the bundled data."""
    model = build_model(SHAPES_CONFIG)
    losses = train_step(model, num_classes=8)
    expected = 0.25 * -math.log(0.01 / 8)  # alpha_fg * ce at p_t = pi / K; (1 - p_t)^2 ~ 1
    assert losses["loss_cls"].item() == pytest.approx(expected, rel=0.1)


# ---------------------------------------------------------------- adapter protocol


def random_scores(seed, num=60, num_classes=5):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(num, num_classes, generator=gen) * 2
    labels = torch.randint(0, num_classes, (num,), generator=gen)
    weights = (torch.rand(num, generator=gen) > 0.3).float()
    return scores, labels, weights


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "mean_positive"])
def test_adapter_equals_core_with_zero_weights_ignored(reduction):
    scores, labels, weights = random_scores(0)
    options = dict(gamma=1.5, alpha=[0.75, 0.25, 0.25, 0.5, 0.25], label_smoothing=0.1, background_class=0)
    adapter = MODELS.build(dict(type="SoftmaxFocalLoss", reduction=reduction, loss_weight=2.5,
                                use_sigmoid=False, **options))
    ours = adapter(scores, labels, weights)
    expected = 2.5 * softmax_focal_loss(scores, labels.masked_fill(weights == 0, -100), reduction=reduction,
                                        **options)
    torch.testing.assert_close(ours, expected)


def test_adapter_fractional_weights_scale_each_position():
    scores, labels, _ = random_scores(1)
    weights = torch.rand(len(labels), generator=torch.Generator().manual_seed(2))
    weights[::4] = 0
    adapter = OpenMMLabSoftmaxFocalLoss(gamma=2.0, reduction="mean_positive", background_class=4)
    ref, _ = reference_focal_loss(scores, labels.masked_fill(weights == 0, -100), gamma=2.0,
                                  reduction="mean_positive", background_class=4, weight=weights)
    torch.testing.assert_close(adapter(scores, labels, weights).double(), ref.detach(), rtol=1e-5, atol=1e-7)


def test_adapter_avg_factor_and_reduction_override():
    scores, labels, weights = random_scores(3)
    # an mmdet head's call (avg_factor): the background is the last column, as stock heads put it
    adapter = OpenMMLabSoftmaxFocalLoss(gamma=2.0, reduction="mean_positive", loss_weight=0.5, background_class=4)
    ignored = labels.masked_fill(weights == 0, -100)
    core_sum = softmax_focal_loss(scores, ignored, gamma=2.0, reduction="sum")
    core_positive = softmax_focal_loss(scores, ignored, gamma=2.0, reduction="mean_positive", background_class=4)
    # mean_positive ignores avg_factor: the positive count comes from the labels.
    torch.testing.assert_close(adapter(scores, labels, weights, avg_factor=7.0), 0.5 * core_positive)
    # mean with avg_factor: mmdet's sum / (avg_factor + eps).
    eps = torch.finfo(torch.float32).eps
    torch.testing.assert_close(adapter(scores, labels, weights, avg_factor=7.0, reduction_override="mean"),
                               0.5 * core_sum / (7.0 + eps))
    per_position = adapter(scores, labels, weights, reduction_override="none")
    assert per_position.shape == labels.shape and torch.all(per_position[weights == 0] == 0)
    with pytest.raises(ValueError, match="avg_factor can not be used with reduction=\"sum\""):
        adapter(scores, labels, weights, avg_factor=7.0, reduction_override="sum")


def test_adapter_rejects_sigmoid_and_bad_options():
    with pytest.raises(ValueError, match="use_sigmoid must be False"):
        MODELS.build(dict(type="SoftmaxFocalLoss", use_sigmoid=True))
    with pytest.raises(ValueError, match="gamma must be a real number >= 0"):
        MODELS.build(dict(type="SoftmaxFocalLoss", gamma=-2.0))
    scores, labels, weights = random_scores(4)
    adapter = OpenMMLabSoftmaxFocalLoss()
    with pytest.raises(ValueError, match=r"weight must be a tensor shaped like label \(60,\), got \(60, 5\)"):
        adapter(scores, labels, weights[:, None].expand(-1, 5))
    with pytest.raises(ValueError, match="reduction_override must be None or one of"):
        adapter(scores, labels, reduction_override="avg")


# ---------------------------------------------------------------- SoftmaxRetinaHead


def test_head_requires_our_loss_with_background_at_zero():
    with pytest.raises(ValueError, match="loss_cls must be a SoftmaxFocalLoss with background_class=0 .*got "
                                         "background_class=8"):
        build_model(SHAPES_CONFIG, loss_cls=dict(type="SoftmaxFocalLoss", background_class=8,
                                                 reduction="mean_positive"))
    with pytest.raises(ValueError, match="SoftmaxRetinaHead's loss_cls must be a SoftmaxFocalLoss .*got a "
                                         "CrossEntropyLoss"):
        build_model(SHAPES_CONFIG, loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False))


def test_head_initial_background_probability_is_one_minus_prior():
    head = build_model(SHAPES_CONFIG).bbox_head
    features = torch.zeros(1, 64, 4, 4)  # zero features: the classifier outputs its bias
    cls_score, _ = head.forward_single(features)
    probabilities = cls_score.view(1, head.num_base_priors, 9, 4, 4).softmax(2)
    torch.testing.assert_close(probabilities[:, :, 0], torch.full_like(probabilities[:, :, 0], 0.99))
    torch.testing.assert_close(probabilities[:, :, 1:], torch.full_like(probabilities[:, :, 1:], 0.01 / 8))


def test_head_remaps_training_labels_background_to_zero():
    model = build_model(SHAPES_CONFIG)
    head = model.bbox_head
    seen = []
    head.loss_cls.register_forward_pre_hook(lambda module, args: seen.append((args[1].clone(), args[2].clone())))
    k = 5
    gt = InstanceData(bboxes=torch.tensor([[30.0, 40.0, 80.0, 90.0]]), labels=torch.tensor([k]))
    features = [torch.randn(1, 64, 128 // s, 128 // s) for s in (8, 16, 32)]
    meta = dict(img_shape=(128, 128), pad_shape=(128, 128), batch_input_shape=(128, 128))
    head.loss(features, _samples(gt, meta))
    assert len(seen) == 1  # one call over all FPN levels
    labels, weights = seen[0]
    counted = labels[weights > 0]
    assert set(counted.unique().tolist()) == {0, k + 1}
    assert (counted == k + 1).sum() > 0 and (counted == 0).sum() > 100


def _samples(gt, meta):
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=meta)
    sample.gt_instances = gt
    return [sample]


def test_head_predicts_channel_k_plus_one_as_label_k():
    head = build_model(SHAPES_CONFIG).bbox_head
    head.eval()
    k, anchor, y, x = 2, 4, 3, 5
    cls_scores, bbox_preds = [], []
    for stride in (8, 16, 32):
        size = 128 // stride
        score = torch.zeros(1, head.num_base_priors, 9, size, size)
        score[:, :, 0] = 8.0  # confident background everywhere ...
        if stride == 8:
            score[0, anchor, 0, y, x] = 0.0
            score[0, anchor, k + 1, y, x] = 12.0  # ... except one confident class-k anchor
        cls_scores.append(score.view(1, -1, size, size))
        bbox_preds.append(torch.zeros(1, head.num_base_priors * 4, size, size))
    meta = dict(img_shape=(128, 128), scale_factor=(1.0, 1.0), ori_shape=(128, 128))
    results = head.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=[meta], rescale=False)[0]
    assert results.labels[0].item() == k
    assert results.scores[0].item() == pytest.approx(torch.softmax(torch.tensor([0.0] + [0.0] * k + [12.0]
                                                                               + [0.0] * (8 - k - 1)), 0)[k + 1].item())


# ---------------------------------------------------------------- stock head


def test_our_loss_in_stock_retina_head_trains_a_step():
    loss_cls = dict(type="SoftmaxFocalLoss", use_sigmoid=False, gamma=2.0, reduction="mean_positive",
                    background_class=8)
    model = build_model(STOCK_CONFIG, loss_cls=loss_cls)
    head = model.bbox_head
    assert type(head).__name__ == "RetinaHead" and not head.use_sigmoid_cls and head.cls_out_channels == 9
    before = head.retina_cls.weight.detach().clone()
    losses = train_step(model, num_classes=8)
    assert torch.isfinite(sum(losses["loss_cls"]))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.step()
    assert not torch.equal(before, head.retina_cls.weight.detach())


# ---------------------------------------------------------------- other OpenMMLab codebases


def test_loss_is_registered_in_mmengine_root_and_heads_stay_in_mmdet():
    from mmengine.registry import MODELS as ROOT_MODELS
    assert ROOT_MODELS.get("SoftmaxFocalLoss") is OpenMMLabSoftmaxFocalLoss
    assert isinstance(ROOT_MODELS.build(dict(type="SoftmaxFocalLoss", gamma=1.0)), OpenMMLabSoftmaxFocalLoss)
    assert MODELS.get("SoftmaxFocalLoss") is OpenMMLabSoftmaxFocalLoss  # mmdet finds it through its parent
    assert "SoftmaxFocalLoss" not in MODELS.module_dict  # one registration, in the root
    assert ROOT_MODELS.get("SoftmaxRetinaHead") is None and MODELS.get("SoftmaxRetinaHead") is SoftmaxRetinaHead


def test_mmseg_style_call_with_ignore_index_and_loss_name():
    """mmseg's decode heads call loss_decode(seg_logits, seg_label, weight=None, ignore_index=255)
    and log the result under loss_decode.loss_name."""
    from mmengine.registry import MODELS as ROOT_MODELS
    loss = ROOT_MODELS.build(dict(type="SoftmaxFocalLoss", gamma=2.0, reduction="mean", loss_weight=0.4,
                                  loss_name="loss_focal_seg"))
    assert loss.loss_name == "loss_focal_seg"
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 6, 8, 8, generator=gen)
    labels = torch.randint(0, 6, (2, 8, 8), generator=gen)
    labels[:, :2] = 255
    ours = loss(logits, labels, weight=None, ignore_index=255)
    torch.testing.assert_close(ours, 0.4 * softmax_focal_loss(logits, labels, gamma=2.0, ignore_index=255))
    # mmpretrain's ClsHead: loss_module(cls_score, target, avg_factor=N) -> sum / N
    scores, targets = logits[:, :, 0, 0], labels[:, 3, 3]
    torch.testing.assert_close(loss(scores, targets, avg_factor=2),
                               0.4 * softmax_focal_loss(scores, targets, gamma=2.0, reduction="sum") / 2,
                               rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="loss_name must be a str starting with 'loss_', got 'focal'"):
        ROOT_MODELS.build(dict(type="SoftmaxFocalLoss", loss_name="focal"))


@pytest.mark.parametrize("backend_option", [dict(compile=True), dict(backend="triton")])
def test_config_backend_option_gives_the_eager_values(backend_option):
    if backend_option.get("backend") == "triton":
        triton_focal = pytest.importorskip("imbalanced_losses.kernels.triton_focal")
        if triton_focal.not_supported_reasons(torch.empty(1, 2)):
            pytest.skip("Triton cannot run on CPU tensors here (no TRITON_INTERPRET=1)")
    scores, labels, weights = random_scores(6)
    options = dict(type="SoftmaxFocalLoss", gamma=2.0, alpha=[0.75] + [0.25] * 4, reduction="mean_positive",
                   label_smoothing=0.1)
    other = MODELS.build(dict(options, **backend_option))
    assert other.backend == backend_option.get("backend", "compile")
    values = []
    for loss in (MODELS.build(dict(options, backend="eager")), other):
        x = scores.clone().requires_grad_()
        value = loss(x, labels, weights)
        value.backward()
        values.append((value.detach(), x.grad))
    assert_close_reordered(values[1][0], values[0][0])  # another backend: another summation order
    assert_close_reordered(values[1][1], values[0][1])


@pytest.mark.parametrize("options", [dict(reduction="mean_positive"),
                                     dict(reduction="mean", alpha=[0.75] + [0.25] * 8)])
def test_a_stock_head_with_the_background_first_fails_loudly_naming_the_fixes(options):
    """The README's background_class=0 pasted into a stock RetinaHead (background LAST): class 0
    would train as the background. The first forward says so and names both fixes."""
    loss_cls = dict(type="SoftmaxFocalLoss", use_sigmoid=False, gamma=2.0, background_class=0, **options)
    model = build_model(STOCK_CONFIG, loss_cls=loss_cls)
    with pytest.raises(ValueError, match=r"background_class=0\) is called by an mmdet head whose labels put the "
                                         r"background LAST \(label 8 of 9 columns.*type='SoftmaxRetinaHead'.*"
                                         r"background_class=8 \(num_classes\)"):
        train_step(model, num_classes=8)


def test_our_head_declares_its_labels_and_checks_alphas_length_when_built():
    model = build_model(SHAPES_CONFIG)
    assert model.bbox_head.loss_cls.labels_background_first is True
    train_step(model, num_classes=8)  # background_class=0 with a background-first head: no error
    loss_cls = dict(type="SoftmaxFocalLoss", gamma=2.0, reduction="mean_positive", background_class=0,
                    alpha=[0.75] + [0.25] * 80)  # README's COCO alpha on an 8-class head
    with pytest.raises(ValueError, match=r"alpha with 81 entries; this head has num_classes=8 plus the background = "
                                         r"9 columns"):
        build_model(SHAPES_CONFIG, loss_cls=loss_cls)


def test_a_stock_head_names_num_classes_when_alpha_has_another_length():
    loss_cls = dict(type="SoftmaxFocalLoss", use_sigmoid=False, reduction="mean", background_class=8,
                    alpha=[0.25] * 80 + [0.75])  # COCO's alpha on an 8-class stock head
    model = build_model(STOCK_CONFIG, loss_cls=loss_cls)
    with pytest.raises(ValueError, match=r"alpha with 81 entries; this head has num_classes=8 plus the background"):
        train_step(model, num_classes=8)
