"""Starting a softmax classifier at a background prior (Detectron's RetinaNet init, for softmax):
with K foreground classes and prior pi, a background bias of log(K (1 - pi) / pi) over zero
foreground biases gives p(background) = 1 - pi and p(class) = pi / K for every class, where a
uniform start gives 1 / (K + 1) each. The OpenMMLab initializer and heads and the torchvision
head all use this one function."""
import math

from ..checks.scalars import check_number


def check_prior(name, prior):
    """A prior probability in (0, 1), as a float (``name``: the argument's name in the error)."""
    return check_number(name, prior, "a number in (0, 1)", lambda number: 0.0 < number < 1.0)


def background_prior_bias(num_classes, prior, name="prior"):
    """The background logit that gives p(background) = 1 - prior over zero foreground logits
    (``name``: the argument's name in the error for a prior outside (0, 1))."""
    prior = check_prior(name, prior)
    return math.log(num_classes * (1.0 - prior) / prior)
