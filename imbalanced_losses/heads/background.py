"""What a softmax detection head with the background at class 0 asks of its loss (our mmdet
RetinaHead, torchvision's RetinaNet and RoI heads): one rule, checked in one place."""
from ..focal_loss import SoftmaxFocalLoss


def check_background_first(loss, argument="loss"):
    """``loss`` if it is a ``SoftmaxFocalLoss`` with ``background_class=0``; ValueError naming
    ``argument`` otherwise."""
    if not isinstance(loss, SoftmaxFocalLoss) or loss.background_class != 0:
        found = (f"background_class={loss.background_class}" if isinstance(loss, SoftmaxFocalLoss)
                 else f"a {type(loss).__name__}")
        raise ValueError(f"{argument} must be a SoftmaxFocalLoss with background_class=0 (the head's background "
                         f"class; type='SoftmaxFocalLoss' in a config), got {found}")
    return loss


def build_or_check_loss(loss, loss_options, defaults):
    """``loss``, or where it is None a ``SoftmaxFocalLoss`` of ``defaults`` updated by
    ``loss_options`` (not both), checked by ``check_background_first``."""
    if loss is not None and loss_options:
        raise TypeError(f"pass either loss or loss options, got loss and {sorted(loss_options)}")
    return check_background_first(loss if loss is not None else SoftmaxFocalLoss(**dict(defaults, **loss_options)))
