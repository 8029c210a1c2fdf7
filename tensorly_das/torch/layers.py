"""Tensorized layers and adapters for ``nn.Linear``: TT matrices and Tucker-style adapters.

``TTMatrix`` and ``TuckerMatrix`` are the tensorized weights (their parameters are one set of
cores for DAS); ``TTLinear`` is a linear layer whose weight is a TT matrix; ``LinearAdapter``
adds a tensorized update ``delta W`` to a frozen ``nn.Linear`` (Tucker: ``A G B^T`` as in FLoRA;
TT: a TT matrix as in LoRETTA); ``add_adapters`` wraps chosen linear layers of a model.
"""

import math

import torch
from torch import nn

from .discovery import TensorizedModule


def _check_modes(modes, features, name):
    modes = tuple(int(m) for m in modes)
    if not modes or any(m < 1 for m in modes) or math.prod(modes) != features:
        raise ValueError(f"{name} {modes} must be positive and multiply to {features}")
    return modes


class TTMatrix(TensorizedModule):
    """A (prod(out_modes) x prod(in_modes)) matrix in Tensor-Train format.

    Core ``k`` has shape ``(r_{k-1}, out_modes[k], in_modes[k], r_k)`` with ``r_0 = r_K = 1``.

    Arguments come in ``nn.Linear``'s order, input first (as in :class:`TTLinear`).

    Parameters
    ----------
    in_modes, out_modes : tuple of int (same length K)
        Factorizations of the input and output sizes.
    rank : int
        Inner TT rank.
    init_std : float or None
        Standard deviation of the random cores; ``None`` scales them so that the
        matrix entries have variance ``1 / in_features`` (like ``nn.Linear``).
    zero_last : bool
        Start with the last core at zero (the matrix is zero, as an adapter should).
    """

    def __init__(self, in_modes, out_modes, rank, init_std=None, zero_last=False):
        super().__init__()
        if len(out_modes) != len(in_modes):
            raise ValueError(f"out_modes {out_modes} and in_modes {in_modes} need the same length")
        if int(rank) < 1:
            raise ValueError(f"TT rank must be >= 1, got {rank}")
        self.out_modes, self.in_modes = tuple(out_modes), tuple(in_modes)
        ranks = [1] + [int(rank)] * (len(out_modes) - 1) + [1]
        if init_std is None:
            # entry variance = prod(ranks inner) * std^(2K) = 1 / in_features
            inner = math.prod(ranks[1:-1])
            init_std = (1.0 / (math.prod(in_modes) * inner)) ** (1.0 / (2 * len(out_modes)))
        names = []
        for k, (o, i) in enumerate(zip(out_modes, in_modes)):
            core = torch.randn(ranks[k], o, i, ranks[k + 1]) * init_std
            if zero_last and k == len(out_modes) - 1:
                core.zero_()
            setattr(self, f"core_{k}", nn.Parameter(core))
            names.append(f"core_{k}")
        self.core_names = tuple(names)

    def forward(self):
        """The full matrix (small for the layer sizes TT layers are used at).

        Returns
        -------
        weight : tensor of shape (prod(out_modes), prod(in_modes))
        """
        cores = self.cores()
        full = cores[0][0]  # (o_1, i_1, r_1)
        for core in cores[1:]:
            rows, cols, _ = full.shape
            full = torch.einsum("abr,rcds->acbds", full, core)
            full = full.reshape(rows * core.shape[1], cols * core.shape[2], core.shape[3])
        return full[..., 0]


class TuckerMatrix(TensorizedModule):
    """``A @ G @ B.T``: an (out x in) matrix of rank at most ``rank`` with three cores.

    ``G`` starts at zero, so the matrix is zero (an adapter's starting point); ``A`` and
    ``B`` are random with orthonormal-scale columns.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output (``nn.Linear``'s order).
    rank : int
        Inner rank.
    """

    core_names = ("A", "G", "B")

    def __init__(self, in_features, out_features, rank):
        super().__init__()
        if int(rank) < 1:
            raise ValueError(f"Tucker adapter rank must be >= 1, got {rank}")
        self.A = nn.Parameter(torch.randn(out_features, rank) / math.sqrt(out_features))
        self.G = nn.Parameter(torch.zeros(rank, rank))
        self.B = nn.Parameter(torch.randn(in_features, rank) / math.sqrt(in_features))

    def forward(self):
        """The full matrix.

        Returns
        -------
        weight : tensor of shape (out_features, in_features)
        """
        return self.A @ self.G @ self.B.T


class TTLinear(nn.Module):
    """A linear layer whose weight is a :class:`TTMatrix`.

    Parameters
    ----------
    in_modes, out_modes : tuple of int
        Factorizations of the input and output sizes (same length).
    rank : int
    bias : bool, default True
    """

    def __init__(self, in_modes, out_modes, rank, bias=True):
        super().__init__()
        self.in_features = math.prod(in_modes)
        self.out_features = math.prod(out_modes)
        self.weight = TTMatrix(in_modes, out_modes, rank)
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None

    @classmethod
    def from_linear(cls, linear, in_modes, out_modes, rank):
        """Compress a trained ``nn.Linear`` into a TT layer by TT-SVD of its weight.

        Parameters
        ----------
        linear : nn.Linear
            The trained layer.
        in_modes, out_modes : tuple of int
            Factorizations of its input and output sizes.
        rank : int
            Inner TT rank (exact when large enough).

        Returns
        -------
        layer : TTLinear
        """
        in_modes = _check_modes(in_modes, linear.in_features, "in_modes")
        out_modes = _check_modes(out_modes, linear.out_features, "out_modes")
        layer = cls(in_modes, out_modes, rank, bias=linear.bias is not None)
        K = len(in_modes)
        W = linear.weight.detach().reshape(*out_modes, *in_modes)
        # interleave (o_1, i_1, o_2, i_2, ...) and run a truncated TT-SVD
        W = W.permute(*[j for k in range(K) for j in (k, K + k)])
        rest, prev = W.reshape(1, -1), 1
        with torch.no_grad():
            for k in range(K - 1):
                rest = rest.reshape(prev * out_modes[k] * in_modes[k], -1)
                U, S, Vh = torch.linalg.svd(rest, full_matrices=False)
                r = min(rank, S.shape[0])
                core = torch.zeros(prev, out_modes[k], in_modes[k], rank)
                core[..., :r] = U[:, :r].reshape(prev, out_modes[k], in_modes[k], r)
                getattr(layer.weight, f"core_{k}").copy_(core)
                rest = torch.zeros(rank, rest.shape[1])
                rest[:r] = S[:r, None] * Vh[:r]
                prev = rank
            last = rest.reshape(prev, out_modes[-1], in_modes[-1], 1)
            getattr(layer.weight, f"core_{K - 1}").copy_(last)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach())
        return layer

    def forward(self, x):
        out = x @ self.weight().T
        return out + self.bias if self.bias is not None else out


class LinearAdapter(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable tensorized update: ``y = x (W + s dW)^T + b``.

    Parameters
    ----------
    linear : nn.Linear
        Its parameters are frozen (``requires_grad=False``).
    kind : {"tucker", "tt"}
        ``"tucker"``: ``dW = A G B^T`` (FLoRA-style); ``"tt"``: a TT matrix (LoRETTA-style),
        which needs ``in_modes`` and ``out_modes``.
    rank : int
    scale : float, default 1.0
    in_modes, out_modes : tuple of int, for ``kind="tt"``
    """

    def __init__(self, linear, kind="tucker", rank=4, scale=1.0, in_modes=None, out_modes=None):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"LinearAdapter wraps an nn.Linear, got {type(linear).__name__}")
        self.linear = linear
        for p in self.linear.parameters():
            p.requires_grad_(False)
        self.scale = scale
        if kind == "tucker":
            self.delta = TuckerMatrix(linear.in_features, linear.out_features, rank)
        elif kind == "tt":
            if in_modes is None or out_modes is None:
                raise ValueError("a TT adapter needs in_modes and out_modes")
            in_modes = _check_modes(in_modes, linear.in_features, "in_modes")
            out_modes = _check_modes(out_modes, linear.out_features, "out_modes")
            self.delta = TTMatrix(in_modes, out_modes, rank, zero_last=True)
        else:
            raise ValueError(f"adapter kind must be 'tucker' or 'tt', got {kind!r}")

    def forward(self, x):
        return self.linear(x) + self.scale * (x @ self.delta().T)


def add_adapters(model, names, kind="tucker", rank=4, modes=None, scale=1.0):
    """Replace the ``nn.Linear`` submodules ``names`` of ``model`` by :class:`LinearAdapter`.

    Every other parameter of ``model`` is frozen, so only the adapters (these and any
    added before) train.

    Parameters
    ----------
    model : nn.Module
    names : list of str
        Dotted names of linear submodules (as in ``model.named_modules()``).
    kind, rank, scale : see :class:`LinearAdapter`
    modes : dict name -> (in_modes, out_modes), for ``kind="tt"``

    Returns
    -------
    model : the same module, modified in place
    """
    modules = dict(model.named_modules())
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        if name not in modules:
            raise KeyError(f"no submodule named {name!r}")
        linear = modules[name]
        in_modes, out_modes = (modes or {}).get(name, (None, None))
        adapter = LinearAdapter(linear, kind=kind, rank=rank, scale=scale, in_modes=in_modes, out_modes=out_modes)
        parent_name, _, child = name.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        setattr(parent, child, adapter)
    for module in model.modules():  # adapters added by earlier calls stay trainable
        if isinstance(module, LinearAdapter):
            module.delta.requires_grad_(True)
    return model
