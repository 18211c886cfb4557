"""``BackgroundPrior``: an mmengine weight initializer that starts a softmax classifier at a
background prior (as Detectron did for RetinaNet), for any linear or conv layer.

With K foreground classes and prior pi, a background bias of log(K (1 - pi) / pi) over zero
foreground biases gives p(background) = 1 - pi and p(class) = pi / K for every class, where a
uniform start gives 1 / (K + 1) each. Registered in mmengine's root ``WEIGHT_INITIALIZERS``, so an
mmdet head's ``init_cfg`` can say::

    dict(type='BackgroundPrior', prior=0.1, background_class=-1, std=0.01, override=dict(name='fc_cls'))
"""

import torch
from mmengine.model.weight_init import BaseInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from ..checks.scalars import check_int, check_number, non_negative
from ..heads.priors import background_prior_bias, check_prior

LAYERS = (torch.nn.Linear, torch.nn.modules.conv._ConvNd)


@WEIGHT_INITIALIZERS.register_module(name="BackgroundPrior")
class BackgroundPriorInit(BaseInit):
    """Weights ~ Normal(0, ``std``); bias: ``background_prior_bias`` at ``background_class``
    (-1: the last output, mmdet's RoI heads; 0: the first), 0 elsewhere.

    Applies to ``nn.Linear`` / ``nn.Conv*`` layers whose output dimension is the K + 1 classes
    (with ``override=dict(name=...)`` or ``layer=...`` as every mmengine initializer).
    """

    def __init__(self, prior=0.01, background_class=-1, std=0.01, **kwargs):
        check_int("background_class", background_class)
        check_prior("prior", prior)
        check_number("std", std, "a number >= 0", non_negative)
        super().__init__(**kwargs)
        self.prior, self.background_class, self.std = prior, background_class, std

    def __call__(self, module):
        layers = [m for m in module.modules() if isinstance(m, LAYERS)
                  and (self.wholemodule or type(m).__name__ in self.layer)]
        for m in layers:
            channels = m.weight.shape[0]
            if m.bias is None or not -channels <= self.background_class < channels:
                raise ValueError(f"BackgroundPrior needs a bias and background_class={self.background_class} "
                                 f"within the {channels} outputs of {m}")
            with torch.no_grad():
                torch.nn.init.normal_(m.weight, 0.0, self.std)
                m.bias.zero_()
                m.bias[self.background_class] = background_prior_bias(channels - 1, self.prior)
        if hasattr(module, "_params_init_info"):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self):
        return (f"{self.__class__.__name__}: prior={self.prior}, background_class={self.background_class}, "
                f"std={self.std}")
