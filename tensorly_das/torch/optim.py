"""SAM and DAS as ``torch.optim`` optimizers wrapping a base optimizer."""

import functools

import numpy as np
import torch
from torch import nn

from ..options import (
    ALPHA_SCHEDULES,
    DAS_DENOMINATORS,
    DAS_DEVIATIONS,
    DAS_GRADIENT_NORMS,
    check_params,
    choice,
    positive_int,
    real,
)
from ..updates import das_factors, das_lambdas, scheduled_alpha
from .diagnostics import layer_diagnostics
from .discovery import tensorized_param_groups


def _groups(params):
    if isinstance(params, nn.Module):
        return tensorized_param_groups(params)
    params = list(params)
    if params and isinstance(params[0], dict):
        return params
    return [{"params": params, "tensorized": False}]


class _Wrapper(torch.optim.Optimizer):
    """Shared plumbing: the base optimizer owns the parameter groups and the state."""

    def __init__(self, params, base_optimizer, defaults, base_kwargs):
        if not (isinstance(base_optimizer, type) and issubclass(base_optimizer, torch.optim.Optimizer)):
            raise TypeError(f"base_optimizer must be a torch.optim.Optimizer class, got {base_optimizer!r}")
        super().__init__(_groups(params), defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        # one list of groups: LR schedulers may attach to this optimizer or to the base
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    def _base_step(self):
        """The base optimizer's update inside this optimizer's step.

        torch wraps every optimizer's ``step`` to run step hooks (global ones included) and a
        profiler range; this optimizer's own ``step`` already does, so the base's class
        function is called unwrapped: hooks fire once per step, and the wrapper's cost is paid
        once. If something patched the base instance's ``step`` (an LR scheduler attached to
        the base does, to track calls), that is called instead.
        """
        base = self.base_optimizer
        patched = base.__dict__.get("step")
        unwrapped = getattr(type(base).step, "__wrapped__", None)
        if patched is not None or unwrapped is None:
            return base.step()
        return unwrapped(base)

    def zero_grad(self, set_to_none=True):
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {"base": self.base_optimizer.state_dict(), "wrapper": self._wrapper_state()}

    def load_state_dict(self, state_dict):
        if set(state_dict) != {"base", "wrapper"}:
            raise ValueError(f"not a {type(self).__name__} state_dict (keys {sorted(state_dict)})")
        self.base_optimizer.load_state_dict(state_dict["base"])
        self.param_groups = self.base_optimizer.param_groups
        self._load_wrapper_state(state_dict["wrapper"])

    def _wrapper_state(self):
        return {}

    def _load_wrapper_state(self, state):
        pass

    def _tensorized_groups(self):
        return [g for g in self.param_groups if g.get("tensorized")]

    def diagnostics(self):
        """Per tensorized layer: its name, Q, and Cov(||G_k||^2, ||g_k||^2) (Theorem A.2).

        See :func:`~tensorly_das.torch.layer_diagnostics`; values stay on the device.

        Returns
        -------
        diagnostics : list of dict
            ``name``, ``norm_deviation`` and ``covariance`` of each tensorized layer.
        """
        return layer_diagnostics((g.get("name"), list(g["params"])) for g in self._tensorized_groups())

    def norm_deviation(self):
        """Q of every tensorized layer.

        Returns
        -------
        q : list of 0-d tensors
        """
        return [d["norm_deviation"] for d in self.diagnostics()]


class SAM(_Wrapper):
    """Sharpness-aware minimization around a base optimizer (two gradients per step).

    ``first_step`` moves every parameter to ``w + rho * g / ||g||`` (``||g||`` over all
    parameters; ASAM: ``rho * w^2 g / ||w g||``), ``second_step`` restores ``w`` and lets
    the base optimizer step with the gradient computed there. ``step(closure)`` does
    both, calling ``closure`` (which must zero the gradients, compute the loss and call
    ``backward``) once at the perturbed point; the caller computes the first gradient.

    Parameters
    ----------
    params : iterable of parameters or groups, or an ``nn.Module``
    base_optimizer : torch.optim.Optimizer class, default SGD
    rho : float, default 0.05
    adaptive : bool, default False
    **base_kwargs
        Passed to the base optimizer (``lr``, ``momentum``, ...).
    """

    _parameter_constraints = {"rho": [real(0, None)], "adaptive": ["boolean"]}

    def __init__(self, params, base_optimizer=torch.optim.SGD, rho=0.05, adaptive=False, **base_kwargs):
        check_params(self._parameter_constraints, {"rho": rho, "adaptive": adaptive}, "SAM")
        super().__init__(params, base_optimizer, {"rho": rho, "adaptive": adaptive}, base_kwargs)
        for group in self.param_groups:
            group.setdefault("rho", rho)
            group.setdefault("adaptive", adaptive)

    @torch.no_grad()
    def first_step(self, zero_grad=False):
        """Move to the perturbed point (gradients must be those at the current point).

        Each parameter moves by ``rho * g / ||g||`` (ASAM: ``rho * w^2 g / ||w g||``), with
        ``||g||`` over all parameters; :meth:`second_step` moves it back.

        Parameters
        ----------
        zero_grad : bool, default False
            Zero the gradients afterwards.
        """
        norms = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    scaled = p.grad * p.abs() if group["adaptive"] else p.grad
                    norms.append(torch.linalg.vector_norm(scaled))
        if not norms:
            raise RuntimeError("SAM.first_step needs gradients: call loss.backward() first")
        total = torch.linalg.vector_norm(torch.stack(norms))
        for group in self.param_groups:
            factor = group["rho"] / (total + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                shift = p.grad * (p * p) if group["adaptive"] else p.grad
                self.state[p]["w"] = p.detach().clone()
                p.add_(shift * factor)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad=False):
        """Return to the unperturbed point and take the base step with the current gradients.

        Parameters
        ----------
        zero_grad : bool, default False
            Zero the gradients afterwards.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and "w" in self.state[p]:
                    p.copy_(self.state[p].pop("w"))
        self._base_step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure=None):
        """Both steps; ``closure`` recomputes the loss and gradients at the perturbed point.

        Parameters
        ----------
        closure : callable
            Zeroes the gradients, computes the loss and calls ``backward``.

        Returns
        -------
        loss : tensor
            The loss at the perturbed point.
        """
        if closure is None:
            raise RuntimeError("SAM.step needs a closure that recomputes the loss and calls backward()")
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            loss = closure()
        self.second_step()
        return loss


class DAS(_Wrapper):
    """Deviation-Aware Scaling around a base optimizer (one gradient per step).

    For each tensorized layer (a parameter group with ``"tensorized": True``; found
    automatically when ``params`` is an ``nn.Module``), every core ``G_k`` is multiplied
    by ``1 + lambda_k`` with ``lambda_k = lr * alpha_t * u * (||g_k||^2 - gbar) / ||G_k||^2``
    (eq. 9; ``gbar`` per layer, ``u = 1 / ||g||`` per layer as in the authors' network code or
    over every parameter, see ``gradient_norm``), bounded by ``max_scale``; then the base
    optimizer steps once with the unchanged gradients. Other parameters get only the base step.

    To first order a step changes ``||G_k||^2`` by ``2 lr alpha u (||g_k||^2 - gbar)``, and a
    SAM step of radius ``rho`` (same ``lr``, plain SGD) by ``2 lr rho u ||g_k||^2`` plus a
    part shared by the layer's cores (the paper's Theorem 2): with ``gradient_norm="global"``
    DAS at ``alpha = rho`` moves the norms relative to each other as SAM does. With the
    default ``"layer"`` it moves each layer's by ``||g|| / ||g_layer||`` times more. With
    momentum, SAM's perturbed gradients accumulate in the buffer over about
    ``1 / (1 - momentum)`` steps and DAS's rescaling does not. With Adam no ``alpha`` matches
    SAM (Adam rescales SAM's perturbed gradient per coordinate). Measured in
    ``benchmarks/das_dynamics.py``.

    Parameters
    ----------
    params : nn.Module, or parameter groups
        Groups marked ``"tensorized": True`` are treated as one layer's cores each.
    base_optimizer : torch.optim.Optimizer class, default SGD
    alpha : float, default 0.2
        DAS strength (the authors' default for networks).
    alpha_schedule : {"linear", "cosine", "constant"}, default "linear"
    total_steps : int, optional
        Length of the schedule; required unless ``alpha_schedule="constant"``.
    denominator : {"squared", "norm"}, default "squared"
        ``||G_k||^2`` (paper) or ``||G_k||`` (the authors' network code).
    deviation : {"paper", "relative"}, default "paper"
    max_scale : float, default 0.05
        Bound on ``|lambda_k|`` per step.
    rebalance : bool, default False
        Make the factors of each layer multiply to 1 (the layer's weight is unchanged).
    gradient_norm : {"layer", "global"}, default "layer"
        The norm in ``u = 1 / ||g||``: of the layer's cores' gradients (the authors' network
        code) or of every parameter's gradient in this optimizer (SAM's, as in the paper's
        Theorem A.2; it costs the norms of the other parameters' gradients too).
    **base_kwargs
        Passed to the base optimizer (``lr`` is required by SGD).
    """

    _parameter_constraints = {
        "alpha": [real(0, None)],
        "alpha_schedule": [choice(ALPHA_SCHEDULES)],
        "total_steps": [positive_int(), None],
        "denominator": [choice(DAS_DENOMINATORS)],
        "deviation": [choice(DAS_DEVIATIONS)],
        "max_scale": [real(0, 0.5)],
        "rebalance": ["boolean"],
        "gradient_norm": [choice(DAS_GRADIENT_NORMS)],
    }

    def __init__(
        self,
        params,
        base_optimizer=torch.optim.SGD,
        alpha=0.2,
        alpha_schedule="linear",
        total_steps=None,
        denominator="squared",
        deviation="paper",
        max_scale=0.05,
        rebalance=False,
        gradient_norm="layer",
        **base_kwargs,
    ):
        defaults = dict(alpha=alpha, alpha_schedule=alpha_schedule, denominator=denominator,
                        deviation=deviation, max_scale=max_scale, rebalance=rebalance,
                        gradient_norm=gradient_norm)
        check_params(self._parameter_constraints, {**defaults, "total_steps": total_steps}, "DAS")
        if alpha_schedule != "constant" and not total_steps:
            raise ValueError(f"alpha_schedule={alpha_schedule!r} needs total_steps (the schedule's length)")
        super().__init__(params, base_optimizer, defaults, base_kwargs)
        for group in self.param_groups:
            for key, value in defaults.items():
                group.setdefault(key, value)
        self.total_steps = total_steps
        self.steps_done = 0
        self._layouts = {}
        if not self._tensorized_groups():
            raise ValueError(
                "DAS found no tensorized layer: pass an nn.Module with tensorly-torch factorized "
                "tensors or tensorly_das adapters, or groups marked {'tensorized': True}"
            )

    def step(self, closure=None):
        """Rescale the cores of each tensorized layer, then take the base step.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss and gradients before the step.

        Returns
        -------
        loss : tensor or None
            What ``closure`` returned.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        progress = self.steps_done / self.total_steps if self.total_steps else 0.0
        layers, cores = [], []  # (number of cores, settings) of each layer DAS rescales now
        for group in self._tensorized_groups():
            alpha_t = scheduled_alpha(group["alpha"], group["alpha_schedule"], progress)
            layer = [p for p in group["params"] if p.grad is not None]
            if alpha_t != 0.0 and len(layer) >= 2:
                layers.append((len(layer), (group["lr"] * alpha_t, group["denominator"], group["deviation"],
                                            group["max_scale"], group["rebalance"], group["gradient_norm"])))
                cores += layer
        # without gradients, set by a call rather than the no_grad decorator (which costs more,
        # on every step of a small net)
        grad_mode = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        try:
            if cores:
                self._rescale(cores, layers)
            self._base_step()
        finally:
            torch.set_grad_enabled(grad_mode)
        self.steps_done += 1
        return loss

    def _other_grads(self, cores):
        """The gradients of the parameters ``cores`` does not hold (for ``gradient_norm="global"``)."""
        held = {id(p) for p in cores}
        return [p.grad for group in self.param_groups for p in group["params"]
                if p.grad is not None and id(p) not in held]

    def _rescale(self, cores, layers):
        # the norms of every core and gradient in one call, one scaling of every core in another
        n, wide = len(cores), any(settings[5] == "global" for _, settings in layers)
        extra = self._other_grads(cores) if wide else []
        norms = torch._foreach_norm(cores + [p.grad for p in cores] + extra)
        if cores[0].device.type == "cpu":
            values = [v.item() for v in norms]
            global_sq = sum(v * v for v in values[n:]) if wide else None
            factors = self._factors_on_host(layers, values[:2 * n], global_sq)
        else:
            factors = self._factors_on_device(layers, norms[:2 * n], norms[n:])
        torch._foreach_mul_(cores, factors)

    @staticmethod
    def _factors_on_host(layers, norms, global_sq=None):
        """On the CPU the statistics are a few numbers: Python floats cost less than any array
        op's dispatch (eq. 9 is still :func:`das_lambdas`, called per core).

        ``layers`` lists ``(number of cores, settings)``, ``norms`` the cores' norms then the
        gradients', ``global_sq`` the squared norm of every parameter's gradient (for the
        layers with ``gradient_norm="global"``); returns one factor per core.
        """
        n = len(norms) // 2
        factors, start = [], 0
        for k, (lr_alpha, denominator, deviation, max_scale, rebalance, gradient_norm) in layers:
            core_sq = [v * v for v in norms[start:start + k]]
            grad_sq = [v * v for v in norms[n + start:n + start + k]]
            start += k
            layer_sq = sum(grad_sq)
            total = global_sq if gradient_norm == "global" else layer_sq
            core_mean, grad_mean = sum(core_sq) / k, layer_sq / k
            lambdas = [das_lambdas(c, g, core_mean, grad_mean, total, lr_alpha, denominator, deviation, max_scale)
                       for c, g in zip(core_sq, grad_sq)]
            if rebalance:
                factors += das_factors(np.array(lambdas), rebalance=True).tolist()
            else:
                factors += [1.0 + lam for lam in lambdas]
        return factors

    def _factors_on_device(self, layers, norms, grad_norms=()):
        """On a GPU the statistics stay there (no host synchronization): the layers that share
        their settings at once, through a core -> layer membership matrix. ``grad_norms``: the
        norms of every parameter's gradient (for ``gradient_norm="global"``)."""
        n = len(norms) // 2
        global_sq = None
        if any(s[5] == "global" for _, s in layers):
            global_sq = torch.stack([v.double() for v in grad_norms]).square().sum()
        by_setting, start = {}, 0
        for k, settings in layers:
            by_setting.setdefault(settings, []).append(range(start, start + k))
            start += k
        factors = [None] * n
        for settings, spans in by_setting.items():
            positions = [i for span in spans for i in span]
            part = [norms[i] for i in positions] + [norms[n + i] for i in positions]
            sizes = [len(span) for span in spans]
            for i, f in zip(positions, self._device_factors(sizes, part, *settings, global_sq=global_sq)):
                factors[i] = f
        return factors

    def _device_factors(self, sizes, norms, lr_alpha, denominator, deviation, max_scale, rebalance,
                        gradient_norm, global_sq=None):
        """Factors of layers of ``sizes`` cores that share one setting, from their norms (cores',
        then gradients'), as 0-d tensors on the device."""
        # a group may mix float32 and float64 cores: the statistics use the widest type
        dtype = functools.reduce(torch.promote_types, (t.dtype for t in norms))
        layer_id, member_t, counts = self._layout(tuple(sizes), norms[0].device, dtype)
        sq = torch.stack(norms).to(dtype).view(2, -1) ** 2
        sums = (sq @ member_t).T  # (layers, 2): per-layer sums of ||G||^2 and ||g||^2
        means = (sums / counts)[layer_id]
        total = global_sq.to(dtype) if gradient_norm == "global" else sums[layer_id, 1]
        lambdas = das_lambdas(
            sq[0], sq[1], means[:, 0], means[:, 1], total, lr_alpha, denominator, deviation, max_scale,
        )

        def layer_mean(x):
            return ((x[None, :] @ member_t).T[:, 0] / counts[:, 0])[layer_id]

        return list(das_factors(lambdas, rebalance, layer_mean).unbind())

    def _layout(self, sizes, device, dtype):
        """Core -> layer membership (ids, one-hot matrix, counts) on the device, built once per layout."""
        key = (sizes, device, dtype)
        if key not in self._layouts:
            layer_id = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
            member_t = torch.zeros(len(layer_id), len(sizes))
            member_t[torch.arange(len(layer_id)), layer_id] = 1.0
            counts = torch.tensor(sizes, dtype=torch.float64)[:, None]
            self._layouts[key] = (layer_id.to(device), member_t.to(device, dtype), counts.to(device, dtype))
        return self._layouts[key]

    def _wrapper_state(self):
        return {"steps_done": self.steps_done}

    def _load_wrapper_state(self, state):
        self.steps_done = int(state["steps_done"])
        for group in self.param_groups:  # a state_dict saved before a setting existed
            group.setdefault("gradient_norm", "layer")
