# Long-tail study, two-stage: ours with a background prior in fc_cls (does it matter in a RoI head,
# where sampling already caps positives at 25%?). fc_cls starts at p(background) = 1 - pi with
# pi = 0.1; every other weight starts exactly as in mmdet's stock init (same draws), so this
# differs from faster-rcnn_r18-half_fpn_softmax-focal_longtail.py only in fc_cls's initial bias.
_base_ = './faster-rcnn_r18-half_fpn_softmax-focal_longtail.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            # mmdet's ConvFCBBoxHead init with the Normal(0.01) of fc_cls replaced by BackgroundPrior
            init_cfg=[
                dict(type='BackgroundPrior', prior=0.1, background_class=-1, std=0.01,
                     override=dict(name='fc_cls')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
                dict(type='Xavier', distribution='uniform',
                     override=[dict(name='shared_fcs'), dict(name='cls_fcs'), dict(name='reg_fcs')]),
            ])))
