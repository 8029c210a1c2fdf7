"""Finding the tensorized layers of a network: which parameters form one set of cores."""

import sys

from torch import nn


class TensorizedModule(nn.Module):
    """Base class of this package's tensorized layers and adapters.

    Subclasses list the attribute names of their cores in ``core_names``; those
    parameters form one set of cores (one "tensorized layer" in the paper's
    Theorem A.2) for :class:`~tensorly_das.torch.DAS` and the diagnostics.

    Parameters
    ----------
    *args, **kwargs
        Passed to ``nn.Module``.
    """

    core_names = ()

    def cores(self):
        """The core parameters, in order.

        Returns
        -------
        cores : list of nn.Parameter
        """
        return [getattr(self, name) for name in self.core_names]


def _is_tltorch_factorized(module):
    tltorch = sys.modules.get("tltorch")  # never import tltorch: it switches TensorLy's backend
    if tltorch is None:
        return False
    from tltorch.factorized_tensors import DenseTensor, FactorizedTensor

    return isinstance(module, FactorizedTensor) and not isinstance(module, DenseTensor)


def tensorized_layers(model):
    """The tensorized layers of ``model``: (name, list of core parameters) pairs.

    A tensorized layer is one of this package's :class:`TensorizedModule`
    (adapters, TT layers) or a tensorly-torch ``FactorizedTensor`` (CP, Tucker, TT,
    block-TT; the weights of ``FactorizedLinear`` and ``FactorizedConv`` are such
    tensors). The outermost match wins; parameters that do not require gradients
    are left out.

    Parameters
    ----------
    model : nn.Module
        The network to search.

    Returns
    -------
    layers : list of (str, list of nn.Parameter)
    """
    found = []
    claimed = set()
    for name, module in model.named_modules():
        if any(name == c or name.startswith(c + ".") for c in claimed if c):
            continue
        if isinstance(module, TensorizedModule):
            cores = [p for p in module.cores() if p.requires_grad]
        elif _is_tltorch_factorized(module):
            cores = [p for p in module.parameters() if p.requires_grad]
        else:
            continue
        claimed.add(name)
        if len(cores) >= 2:
            found.append((name, cores))
    return found


def tensorized_param_groups(model):
    """Parameter groups for an optimizer: one per tensorized layer, then the rest.

    Each tensorized group carries ``"tensorized": True`` and ``"name"``; the last
    group (``"tensorized": False``) holds every other trainable parameter (biases,
    dense layers), which get only the base step.

    Parameters
    ----------
    model : nn.Module
        The network.

    Returns
    -------
    groups : list of dict
        ``torch.optim`` parameter groups.
    """
    groups = []
    seen = set()
    for name, cores in tensorized_layers(model):
        groups.append({"params": cores, "tensorized": True, "name": name})
        seen.update(id(p) for p in cores)
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    if rest:
        groups.append({"params": rest, "tensorized": False, "name": "other"})
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return groups
