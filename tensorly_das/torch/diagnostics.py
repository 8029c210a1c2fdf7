"""Per-layer core-norm diagnostics of a tensorized network (Theorem A.2)."""

import torch

from ..norms import norm_deviation, norm_gradient_covariance
from .discovery import tensorized_layers


@torch.no_grad()
def layer_diagnostics(layers):
    """Q and Cov(||G_k||^2, ||g_k||^2) for each tensorized layer.

    Parameters
    ----------
    layers : nn.Module, or iterable of (name, list of core parameters)
        A module is searched with :func:`tensorized_layers`.

    Returns
    -------
    list of dict
        ``name``, ``norm_deviation`` (0-d tensor on the cores' device) and
        ``covariance`` (0-d tensor, or None while some core has no gradient).
    """
    if isinstance(layers, torch.nn.Module):
        layers = tensorized_layers(layers)
    out = []
    for name, cores in layers:
        values = [p.detach() for p in cores]
        entry = {"name": name, "norm_deviation": norm_deviation(values), "covariance": None}
        if all(p.grad is not None for p in cores):
            entry["covariance"] = norm_gradient_covariance(values, [p.grad for p in cores])
        out.append(entry)
    return out
