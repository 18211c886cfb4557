# DeepLabV3+ (ResNet-50, output stride 8) on Cityscapes, as mmseg's own config, with our softmax
# focal loss in the decode head and the auxiliary FCN head: gamma 2, mean over the valid pixels
# of the whole global batch (gather_distributed: the 4 GPUs' pixel counts are summed, 16 bytes a
# call), ignore label 255, and class-balanced alpha (Cui et al.) from the number of training
# images holding each of the 19 classes, read from the label maps at build time.
# Not trained here (no GPU, no Cityscapes): a test builds it on top of mmseg's config.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py'

custom_imports = dict(imports=['imbalanced_losses.mmseg'], allow_failed_imports=False)

alpha = dict(type='class_balanced', seg_map_dir='data/cityscapes/gtFine/train', suffix='_gtFine_labelTrainIds.png',
             num_classes=19, ignore_index=255, beta=0.999, count='images')
focal = dict(type='SoftmaxFocalLoss', gamma=2.0, reduction='mean', ignore_index=255, gather_distributed=True,
             alpha=alpha, loss_name='loss_focal')
model = dict(
    decode_head=dict(loss_decode=dict(focal, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(focal, loss_weight=0.4)))
# A run killed and resumed with --resume ends with the weights of an uninterrupted one
# (ExactResumeHook; docs/guides/tools.md).
custom_hooks = [dict(type='ExactResumeHook')]
