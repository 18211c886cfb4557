"""An independent float64 reference of the loss, written straight from the formula with autograd."""
import torch


def reference_focal_loss(logits, targets, alpha=None, gamma=2.0, reduction="mean", label_smoothing=0.0,
                         ignore_index=-100, background_class=0, weight=None):
    """Returns (value, d value / d logits), both float64."""
    x = logits.detach().double().requires_grad_()
    num_classes = x.shape[1]
    log_p = torch.log_softmax(x, dim=1).movedim(1, -1).reshape(-1, num_classes)
    y = targets.reshape(-1)
    valid = y != ignore_index
    lp, t = log_p[valid], y[valid].long()
    log_p_t = lp[torch.arange(len(t)), t]
    ce = -(1 - label_smoothing) * log_p_t - label_smoothing / num_classes * lp.sum(1)
    q = -torch.expm1(log_p_t)  # 1 - p_t without cancellation
    # (q ** gamma)' is inf * 0 at q == 0 for gamma < 1; the limit (and the true gradient) is 0.
    saturated = q == 0
    loss_valid = torch.where(saturated, 0.0, torch.where(saturated, 1.0, q) ** gamma) * ce
    if gamma == 0:
        loss_valid = ce
    if alpha is not None:
        loss_valid = loss_valid * torch.as_tensor(alpha, dtype=torch.float64)[t]
    if weight is not None:
        loss_valid = loss_valid * weight.reshape(-1)[valid].double()
    per_position = torch.zeros(y.shape, dtype=torch.float64).index_put((valid.nonzero()[:, 0],), loss_valid)
    per_position = per_position.reshape(targets.shape)
    if reduction == "none":
        value = per_position
    elif reduction == "sum":
        value = per_position.sum()
    elif reduction == "mean":
        value = per_position.sum() / max(1, int(valid.sum()))
    else:
        value = per_position.sum() / max(1, int((valid & (y != background_class)).sum()))
    return value, x
