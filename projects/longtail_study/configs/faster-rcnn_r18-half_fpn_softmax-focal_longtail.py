# Long-tail study, two-stage: ours in the stock Shared2FCBBoxHead. The head puts the background
# last (label K = 16), so background_class=16; no alpha (the 1 : 3 RoI sampling already balances
# foreground and background); normalised by the number of positive sampled RoIs of the whole
# batch, across GPUs. fc_cls keeps mmdet's initialisation (uniform scores, 1 / (K + 1)).
_base_ = './_base_/faster-rcnn_r18-half_fpn_shapes-longtail.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                alpha=None,
                reduction='mean_positive',
                background_class=16,
                gather_distributed=True,
                loss_weight=1.0))))
