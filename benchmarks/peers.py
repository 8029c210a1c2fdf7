"""What the completion benchmarks share: our estimators and the peers as ``fit`` functions,
rank selection on a validation split, and a time / peak-memory probe.

Every ``fit(train, rank, seed)`` takes an :class:`~tensorly_das.ObservedTensor` and returns a
``predict(indices)`` function, so every tool is run and scored the same way.

Peers (each imported only when used):

- TensorLy's masked ``parafac`` / ``tucker``: dense EM imputation (dense tensor and mask).
- pyttb's ``gcp_opt``: Gaussian loss, L-BFGS-B, dense mask.
- tntorch's ``optimize`` on a TT tensor, as its completion tutorial runs it.
- A plain PyTorch Adam loop, as people write by hand: cores as parameters, TensorLy's dense
  reconstruction (``cp_to_tensor`` ...) on the torch backend, mean squared error at the
  observed entries, ``torch.optim.Adam(lr=0.01)`` for a fixed 2000 steps.
"""

import time

import numpy as np
import tensorly as tl

import tensorly_das as td
from tensorly_das.allocator import release_free_memory

MODELS = {
    "cp": td.CPCompletion,
    "tucker": td.TuckerCompletion,
    "tt": td.TTCompletion,
    "tr": td.TRCompletion,
}


# -- measuring -------------------------------------------------------------------------------


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(function, *args, **kwargs):
    """Run ``function`` and return ``(result, seconds, peak_mb)``.

    ``peak_mb`` is the rise of the process's peak resident memory above its resident memory
    at the start (Linux: the peak is reset through ``/proc/self/clear_refs``), so it counts
    what the call itself allocated at its worst moment, NumPy and torch alike. NaN where
    ``/proc`` does not offer this.
    """
    release_free_memory()  # return freed heap pages, so a fit reusing them counts them again
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        start_kb = _status_kb("VmRSS")
    except OSError:
        start_kb = None
    t0 = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - t0
    peak_mb = float("nan") if start_kb is None else (_status_kb("VmHWM") - start_kb) / 1024
    return result, seconds, peak_mb


def warm_up():
    """Run each library once on a tiny problem, so one-off start-up costs (imports, thread
    pools, allocator pools) are not charged to the first measured fit."""
    small = td.ObservedTensor.from_dense(np.arange(24.0).reshape(2, 3, 4))
    ours("cp", max_iter=5)(small, 1, 0)
    if available("torch"):
        torch_adam("cp", n_steps=5)(small, 1, 0)


def available(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# -- rank selection ----------------------------------------------------------------------------


def select_and_fit(fit, settings, train, seed=0):
    """Choose a setting on a 10% validation part of ``train``, then refit on all of it.

    Returns ``(predict, setting, seconds, peak_mb)`` of the final fit.
    """
    sub, val = train.split(0.1, random_state=seed + 100)
    errors = []
    for setting in settings:
        predict = fit(sub, setting, seed)
        errors.append(np.sqrt(np.mean((predict(val.indices) - val.values) ** 2)))
    errors = np.where(np.isfinite(errors), errors, np.inf)
    setting = settings[int(np.argmin(errors))]
    predict, seconds, peak_mb = measure(fit, train, setting, seed)
    return predict, setting, seconds, peak_mb


# -- our estimators ------------------------------------------------------------------------------


def ours(model, **params):
    """``fit`` for our estimator of ``model`` with ``params``; a setting is a rank."""
    cls = MODELS[model]

    def fit(train, rank, seed):
        return cls(rank=rank, random_state=seed, **params).fit(train).predict

    return fit


# -- peers --------------------------------------------------------------------------------------------


def dense_and_mask(obs):
    dense = np.zeros(obs.shape)
    dense[tuple(obs.indices.T)] = obs.values
    mask = np.zeros(obs.shape)
    mask[tuple(obs.indices.T)] = 1.0
    return dense, mask


def _lookup(full):
    full = np.asarray(full)
    return lambda idx: full[tuple(np.asarray(idx).T)]


def masked_parafac(train, rank, seed):
    from tensorly.decomposition import parafac

    dense, mask = dense_and_mask(train)
    # TensorLy's own default start, init="svd" (its signature; with a mask it repeats the SVD on
    # the imputed tensor, svd_mask_repeats=5); more iterations than its default 100 so that it
    # runs to convergence (tol 1e-8 is its default)
    cp = parafac(dense, rank, mask=mask, init="svd", random_state=seed, n_iter_max=500, tol=1e-8)
    return _lookup(tl.cp_to_tensor(cp))


def masked_tucker(train, rank, seed):
    from tensorly.decomposition import tucker

    dense, mask = dense_and_mask(train)
    # TensorLy's default init="svd" (its signature), run to convergence (500 iterations, tol 1e-7)
    tt = tucker(dense, rank, mask=mask, init="svd", random_state=seed, n_iter_max=500, tol=1e-7)
    return _lookup(tl.tucker_to_tensor(tt))


def gcp(train, rank, seed):
    import pyttb as ttb
    from pyttb.gcp.handles import Objectives
    from pyttb.gcp.optimizers import LBFGSB

    dense, mask = dense_and_mask(train)
    np.random.seed(seed)
    model, _, _ = ttb.gcp_opt(ttb.tensor(dense), rank, Objectives.GAUSSIAN, LBFGSB(), mask=ttb.tensor(mask),
                              printitn=0)
    return _lookup(model.full().data)


def tntorch_tt(train, rank, seed):
    import tntorch as tn
    import torch

    torch.manual_seed(seed)
    inner = list(rank[1:-1]) if isinstance(rank, (tuple, list)) else rank  # tntorch: ranks between cores
    t = tn.rand(train.shape, ranks_tt=inner, requires_grad=True)
    idx = torch.as_tensor(train.indices)
    values = torch.as_tensor(train.values)

    def loss(t):
        return tn.relative_error(values, t[idx]) ** 2

    tn.optimize(t, loss, verbose=False)
    return lambda held: np.asarray(t[torch.as_tensor(np.asarray(held))].torch().detach())


def torch_adam(model, n_steps=2000, lr=0.01):
    """``fit`` of a hand-written PyTorch loop for ``model`` (dense reconstruction each step)."""
    cls = MODELS[model]

    def fit(train, rank, seed):
        import torch

        gen = torch.Generator().manual_seed(seed)
        spec = cls._model_class(train.shape, rank)
        # Gaussian cores scaled so the reconstruction's spread matches the data's
        scale = (train.values.std() ** 2 / spec.n_paths()) ** (1 / (2 * spec.chain_length()))
        params = [(scale * torch.randn(s, generator=gen, dtype=torch.float64)).requires_grad_()
                  for s in spec.core_shapes()]
        idx = tuple(torch.as_tensor(train.indices.T))
        y = torch.as_tensor(train.values)
        opt = torch.optim.Adam(params, lr=lr)
        with tl.backend_context("pytorch"):
            for _ in range(n_steps):
                opt.zero_grad()
                loss = ((spec.to_tensorly(params).to_tensor()[idx] - y) ** 2).mean()
                loss.backward()
                opt.step()
            with torch.no_grad():
                full = spec.to_tensorly(params).to_tensor().numpy()
        return _lookup(full)

    return fit
