"""tensorly_das: sparse tensor completion with SAM and Deviation-Aware Scaling.

Completion estimators trained from observed entries only, whose fit loops use
plain Adam/SGD, sharpness-aware minimization (SAM) or Deviation-Aware Scaling
(DAS), on NumPy or PyTorch (CPU and CUDA). Results are TensorLy objects.
"""

from . import estimators
from .estimators import *  # noqa: F401,F403  (the estimators and their function forms)
from .fit import DivergenceError
from .metrics import nrmse, r2_score, uncentered_r2_score
from .norms import (
    core_norms,
    norm_deviation,
    norm_gradient_covariance,
    squared_core_norms,
)
from .model_selection import one_standard_error_rule
from .observed import ObservedTensor

__version__ = "0.2.0"

__all__ = [
    "ObservedTensor",
    *estimators.__all__,
    "DivergenceError",
    "core_norms",
    "squared_core_norms",
    "norm_deviation",
    "norm_gradient_covariance",
    "r2_score",
    "uncentered_r2_score",
    "nrmse",
    "one_standard_error_rule",
    "__version__",
]
