"""Update rules on a list of cores: base steps (Adam, SGD) and the wrappers
plain / SAM / DAS that decide which gradient the base step takes.

Nothing here knows about a particular model: an update sees a list of cores
(NumPy arrays or torch tensors, updated in place) and a function
``grad_fn(cores) -> (loss, grads)``.

- :mod:`.base_steps`: Adam and SGD;
- :mod:`.block_ls`: block least squares (ALS), the second-order base step;
- :mod:`.das`: the DAS formula, its bound and schedules;
- :mod:`.rules`: the plain / SAM / DAS wrappers.
"""

from ..options import ALPHA_SCHEDULES, METHODS
from .base_steps import SGD, Adam, make_base_step
from .block_ls import BlockLeastSquares
from .das import das_factors, das_lambdas, das_scale_factors, scheduled_alpha
from .rules import DASUpdate, PlainUpdate, SAMUpdate, make_update

__all__ = [
    "SGD", "Adam", "BlockLeastSquares", "make_base_step", "scheduled_alpha", "das_scale_factors", "das_lambdas",
    "das_factors", "PlainUpdate", "SAMUpdate", "DASUpdate", "make_update", "ALPHA_SCHEDULES", "METHODS",
]
