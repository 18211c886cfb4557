"""SoftmaxRetinaHead: RetinaNet with a softmax classifier whose channel 0 is the background."""
import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import images_to_levels
from mmdet.registry import MODELS
from mmdet.structures.bbox import cat_boxes, get_box_tensor

from ..heads.background import check_background_first
from ..heads.priors import background_prior_bias, check_prior


@MODELS.register_module()
class SoftmaxRetinaHead(RetinaHead):
    """RetinaHead for ``SoftmaxFocalLoss`` with ``background_class=0``.

    - Per anchor the classifier has K + 1 channels: background at 0, class k at k + 1.
    - Training labels from mmdet (background = K) are remapped (K -> 0, k -> k + 1) before the loss.
    - The classification loss is called once over all FPN levels (stock heads call it per level),
      so ``mean_positive`` divides by the positive anchors of the whole batch, as RetinaNet does.
    - Scores are ``softmax(-1)[..., 1:]``.
    - The classifier bias starts at the background prior (as in Detectron): background
      log(K (1 - pi) / pi), foreground 0, so p(background) = 1 - pi instead of 1 / (K + 1).

    Every argument of ``RetinaHead`` is taken as it is; ``loss_cls`` must be our
    ``SoftmaxFocalLoss`` with ``background_class=0``.

    Args:
        background_prior (float): pi, the initial foreground probability mass. Default 0.01.
    """

    def __init__(self, *args, background_prior=0.01, **kwargs):
        check_prior("background_prior", background_prior)
        super().__init__(*args, **kwargs)
        check_background_first(self.loss_cls, "SoftmaxRetinaHead's loss_cls")
        self.loss_cls.labels_background_first = True  # the labels it is called with (loss_by_feat remaps them)
        alpha = self.loss_cls.alpha
        if alpha is not None and alpha.numel() != self.cls_out_channels:
            raise ValueError(f"SoftmaxRetinaHead's loss_cls has alpha with {alpha.numel()} entries; this head has "
                             f"num_classes={self.num_classes} plus the background = {self.cls_out_channels} columns "
                             f"(alpha=[background] + [foreground] * num_classes)")
        self.background_prior = background_prior

    def init_weights(self):
        super().init_weights()
        bias = self.retina_cls.bias.view(self.num_base_priors, self.cls_out_channels)
        prior = self.background_prior
        with torch.no_grad():
            bias[:, 0] = background_prior_bias(self.num_classes, prior)
            bias[:, 1:] = 0.0

    def loss_by_feat(self, cls_scores, bbox_preds, batch_gt_instances, batch_img_metas,
                     batch_gt_instances_ignore=None):
        """As ``AnchorHead.loss_by_feat`` but with one ``loss_cls`` call over all levels."""
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(featmap_sizes, batch_img_metas,
                                                        device=cls_scores[0].device)
        (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore=batch_gt_instances_ignore)
        scores = torch.cat([score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels) for score in cls_scores])
        labels = torch.cat([labels.reshape(-1) for labels in labels_list])
        labels = torch.where(labels == self.num_classes, 0, labels + 1)  # background first
        weights = torch.cat([weights.reshape(-1) for weights in label_weights_list])
        loss_cls = self.loss_cls(scores, labels, weights, avg_factor=avg_factor)

        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        level_anchors = images_to_levels([cat_boxes(anchors) for anchors in anchor_list], num_level_anchors)
        # by index, not zip(): torch.compile (mmengine's compile=True) cannot step through a zip here
        loss_bbox = [self._loss_bbox_single(bbox_preds[i], level_anchors[i], bbox_targets_list[i],
                                            bbox_weights_list[i], avg_factor=avg_factor)
                     for i in range(len(bbox_preds))]
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    def _loss_bbox_single(self, bbox_pred, anchors, bbox_targets, bbox_weights, avg_factor):
        """The regression half of ``AnchorHead.loss_by_feat_single``, unchanged."""
        target_dim = bbox_targets.size(-1)
        bbox_targets = bbox_targets.reshape(-1, target_dim)
        bbox_weights = bbox_weights.reshape(-1, target_dim)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, self.bbox_coder.encode_size)
        if self.reg_decoded_bbox:
            anchors = anchors.reshape(-1, anchors.size(-1))
            bbox_pred = get_box_tensor(self.bbox_coder.decode(anchors, bbox_pred))
        return self.loss_bbox(bbox_pred, bbox_targets, bbox_weights, avg_factor=avg_factor)

    def predict_by_feat(self, cls_scores, bbox_preds, *args, **kwargs):
        # mmdet's post-processing scores softmax heads with softmax(-1)[:, :-1]; moving our
        # background channel from first to last makes that exactly softmax(-1)[:, 1:].
        cls_scores = [self._background_last(score) for score in cls_scores]
        return super().predict_by_feat(cls_scores, bbox_preds, *args, **kwargs)

    def _background_last(self, cls_score):
        batch, _, height, width = cls_score.shape
        per_anchor = cls_score.view(batch, self.num_base_priors, self.cls_out_channels, height, width)
        return per_anchor.roll(-1, dims=2).reshape(cls_score.shape)
