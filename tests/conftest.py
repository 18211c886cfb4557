import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))  # tests import their helpers (reference.py, cases.py) by name
if not torch.cuda.is_available():
    # backend='triton' then runs its kernels in Triton's interpreter on CPU tensors (set before
    # the kernels are decorated, i.e. before imbalanced_losses.kernels.triton_focal is imported).
    os.environ.setdefault("TRITON_INTERPRET", "1")
