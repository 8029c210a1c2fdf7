"""SAM and DAS as PyTorch optimizers for tensorized networks (``pip install 'tensorly_das[torch]'``).

>>> import torch
>>> from tensorly_das.torch import DAS, TTLinear
>>> net = torch.nn.Sequential(TTLinear((4, 4), (4, 4), rank=2), torch.nn.ReLU(), torch.nn.Linear(16, 3))
>>> opt = DAS(net, lr=0.1, alpha=0.2, total_steps=100)
>>> [g["name"] for g in opt.param_groups]
['0.weight', 'other']
"""

from .diagnostics import layer_diagnostics
from .discovery import TensorizedModule, tensorized_layers, tensorized_param_groups
from .layers import LinearAdapter, TTLinear, TTMatrix, TuckerMatrix, add_adapters
from .optim import DAS, SAM

__all__ = [
    "SAM",
    "DAS",
    "TensorizedModule",
    "tensorized_layers",
    "tensorized_param_groups",
    "layer_diagnostics",
    "TTMatrix",
    "TuckerMatrix",
    "TTLinear",
    "LinearAdapter",
    "add_adapters",
]
