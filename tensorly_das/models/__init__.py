"""Tensorized completion models: one module per decomposition, one shared interface."""

from .base import Batch, TensorModel
from .cp import CPModel
from .ring import TRModel, TTModel
from .tucker import TuckerModel

__all__ = ["Batch", "TensorModel", "CPModel", "TuckerModel", "TTModel", "TRModel"]
