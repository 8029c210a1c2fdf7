"""Tensorized completion models: one module per decomposition, one shared interface."""

from .base import Batch, TensorModel
from .cp import CPModel

__all__ = ["Batch", "TensorModel", "CPModel"]
