"""The methods the completion benchmarks compare, as :class:`benchmarks.protocol.Method` objects.

Every method's ``fit(train, rank, seed, l2=0.0, validation=None, **refit)`` takes an
:class:`~tensorly_das.ObservedTensor` and returns ``(predict, refit)``, so every tool is
selected, run and scored the same way (see ``benchmarks/protocol.py``). Each peer runs at its
documented settings; the comment at each says where they come from. Peers are imported only
when used.

- Ours: the estimators at their defaults (``l2_reg="auto"``, early stopping, spectral start),
  and the same with ``l2_reg=0`` for comparison.
- TensorLy's masked ``parafac`` / ``tucker``: dense EM imputation, ``init="svd"`` (their
  default), run to convergence; ``parafac`` also has a ridge (``l2_reg``): a second row has it
  tuned by the protocol.
- pyttb's ``gcp_opt``: Gaussian loss, L-BFGS-B, dense mask, best of :data:`RESTARTS` random
  starts by the final loss.
- tntorch's ``optimize`` on a TT tensor, with Adam at a learning rate and tolerance that fit
  the data's scale.
- A plain PyTorch Adam loop, as people write by hand: cores as parameters, TensorLy's dense
  reconstruction (``cp_to_tensor`` ...) on the torch backend, mean squared error at the
  observed entries plus the same ridge as ours, ``torch.optim.Adam(lr=0.01)``, stopped early
  on the validation entries.
"""

import numpy as np
import tensorly as tl

import tensorly_das as td
from benchmarks.measure import available, measure  # noqa: F401  (re-exported for the scripts)
from benchmarks.protocol import Method
from tensorly_das.estimators.ridge import reference_strength

MODELS = {
    "cp": td.CPCompletion,
    "tucker": td.TuckerCompletion,
    "tt": td.TTCompletion,
    "tr": td.TRCompletion,
}

#: random starts pyttb's gcp_opt gets (the best by final training loss is kept)
RESTARTS = 5


def warm_up():
    """Run each library once on a tiny problem, so one-off start-up costs (imports, thread
    pools, allocator pools) are not charged to the first measured fit."""
    small = td.ObservedTensor.from_dense(np.arange(24.0).reshape(2, 3, 4))
    ours("cp", max_iter=5).fit(small, 1, 0)
    if available("torch"):
        torch_adam("cp").fit(small, 1, 0, n_steps=5)


def _lookup(full):
    full = np.asarray(full)
    return lambda idx: full[tuple(np.asarray(idx).T)]


def dense_and_mask(obs):
    dense = np.zeros(obs.shape)
    dense[tuple(obs.indices.T)] = obs.values
    mask = np.zeros(obs.shape)
    mask[tuple(obs.indices.T)] = 1.0
    return dense, mask


# -- ours ------------------------------------------------------------------------------------------


def ours(model, name=None, **params):
    """Our estimator of ``model`` with ``params`` (defaults otherwise). It chooses its ridge
    itself (``l2_reg="auto"``) on its own validation entries, so the protocol tunes only its
    rank."""
    cls = MODELS[model]

    def fit(train, rank, seed, l2=0.0, validation=None):
        return cls(rank=rank, random_state=seed, **params).fit(train).predict, {}

    label = ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
    return Method(name or f"ours {model} ({label})", fit)


# -- TensorLy ----------------------------------------------------------------------------------------


def peer_rng(seed):
    """The generator of a peer's random start: a stream of its own, unrelated to the
    ``default_rng(seed)`` stream that draws the synthetic problems' truth (sharing it would
    start a peer at the truth)."""
    return np.random.default_rng([seed, 0x9EE25])


def _init_reference(model, train, rank, seed=0):
    """The ridge reference (:func:`~tensorly_das.estimators.ridge.reference_strength`, our
    units) at Gaussian cores scaled so the reconstruction's spread matches the data's: the
    start the PyTorch loops use. The scale of a ridge for peers whose start is internal."""
    return reference_strength(_gaussian_cores(model, train, rank, peer_rng(seed)),
                              float(np.mean(train.values ** 2)))


def _gaussian_cores(model, train, rank, rng):
    spec = MODELS[model]._model_class(train.shape, rank)
    scale = (train.values.std() ** 2 / spec.n_paths()) ** (1 / (2 * spec.chain_length()))
    return [scale * rng.standard_normal(s) for s in spec.core_shapes()]


def _masked_parafac(train, rank, seed, l2=0.0, validation=None):
    from tensorly.decomposition import parafac

    dense, mask = dense_and_mask(train)
    # TensorLy's own default start, init="svd" (its signature; with a mask it repeats the SVD on
    # the imputed tensor, svd_mask_repeats=5); more iterations than its default 100 so that it
    # runs to convergence (tol 1e-8 is its default). Its ridge `l2_reg` penalizes the sum of
    # squared residuals, ours their mean: l2_reg = nnz * l2.
    cp = parafac(dense, rank, mask=mask, init="svd", random_state=seed, n_iter_max=500, tol=1e-8,
                 l2_reg=train.nnz * l2)
    return _lookup(tl.cp_to_tensor(cp)), {}


def _masked_tucker(train, rank, seed, l2=0.0, validation=None):
    from tensorly.decomposition import tucker

    dense, mask = dense_and_mask(train)
    # TensorLy's default init="svd" (its signature), run to convergence (500 iterations, tol
    # 1e-7); it has no ridge
    tt = tucker(dense, rank, mask=mask, init="svd", random_state=seed, n_iter_max=500, tol=1e-7)
    return _lookup(tl.tucker_to_tensor(tt)), {}


#: at its documented defaults (no ridge), and with its ridge tuned by the protocol: at 90%
#: missing a small ridge (or 10% fewer entries) can switch its EM iterations to another
#: solution, so both rows are shown
masked_parafac = Method("tensorly masked parafac", _masked_parafac)
masked_parafac_ridge = Method("tensorly masked parafac, ridge", _masked_parafac,
                              reference=lambda train, rank: _init_reference("cp", train, rank))
masked_tucker = Method("tensorly masked tucker", _masked_tucker)


# -- pyttb -------------------------------------------------------------------------------------------


def _gcp(train, rank, seed, l2=0.0, validation=None, maxiter=1000):
    import pyttb as ttb
    from pyttb.gcp.handles import Objectives
    from pyttb.gcp.optimizers import LBFGSB

    dense, mask = dense_and_mask(train)
    # gcp_opt starts from a random guess (init="random", its default) and the problem is not
    # convex: as pyttb's (and the Tensor Toolbox's) CP documentation advises for such fits, run
    # several starts and keep the lowest final objective (info["final_f"]). L-BFGS-B at its
    # default settings (maxiter 1000); Gaussian loss, the least-squares case; no ridge in
    # gcp_opt, so the protocol tunes its iteration limit instead (GCP_MAXITER).
    best = None
    for start in range(RESTARTS):
        np.random.seed(1000 * seed + start)
        model, _, info = ttb.gcp_opt(ttb.tensor(dense), rank, Objectives.GAUSSIAN, LBFGSB(maxiter=maxiter),
                                     mask=ttb.tensor(mask), printitn=0)
        if best is None or info["final_f"] < best[0]:
            best = (info["final_f"], model)
    return _lookup(best[1].full().data), {}


#: L-BFGS-B iteration limits the protocol chooses from (1000 is LBFGSB's default in pyttb)
GCP_MAXITER = (1000, 200, 50, 20)
gcp = Method(f"pyttb gcp_opt (best of {RESTARTS})", _gcp, options=tuple({"maxiter": m} for m in GCP_MAXITER))


# -- tntorch -----------------------------------------------------------------------------------------


def _tntorch_tt(train, rank, seed, l2=0.0, validation=None):
    import tntorch as tn
    import torch

    torch.manual_seed(seed)
    inner = list(rank[1:-1]) if isinstance(rank, (tuple, list)) else rank  # tntorch: ranks between cores
    t = tn.rand(train.shape, ranks_tt=inner, requires_grad=True)
    idx = torch.as_tensor(np.array(train.indices))
    values = torch.as_tensor(np.array(train.values))

    def loss(t):  # the loss of tntorch's completion tutorial
        return tn.relative_error(values, t[idx]) ** 2

    # tn.optimize takes any torch optimizer and stops when the loss improves by less than `tol`
    # (its docstring). At its defaults (Adam lr 1e-3, tol 1e-4) that check fires on the plateau
    # that tn.rand's uniform [0, 1] cores start on, before any fitting; Adam at lr 1e-2 with tol
    # 1e-6 runs past it.
    tn.optimize(t, loss, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), tol=1e-6, verbose=False)
    return lambda held: np.asarray(t[torch.as_tensor(np.asarray(held))].torch().detach()), {}


tntorch_tt = Method("tntorch optimize (Adam 1e-2)", _tntorch_tt)


# -- a hand-written PyTorch loop ---------------------------------------------------------------------


def torch_adam(model, lr=0.01, max_steps=5000, check_every=25, patience=8, fixed_steps=None):
    """A hand-written PyTorch Adam loop for ``model`` (dense reconstruction each step), with the
    ridge ``0.5 * l2 * sum_k ||G_k||^2`` and early stopping: with validation entries it keeps
    the best step (checked every ``check_every`` steps, stopping after ``patience`` checks
    without improvement) and reports that step count for the refit; without, it runs
    ``n_steps``.

    ``fixed_steps=N`` gives the loop as most hand-written ones run: N steps on all training
    entries, no ridge, no validation. It is a second row because early stopping is not always
    the loop's best: at 90% missing a CP loop stopped on 9% of the entries halts in its swamp
    (the validation error rises there before it falls), while the same loop run longer on all
    10% often recovers."""
    cls = MODELS[model]

    def fit(train, rank, seed, l2=0.0, validation=None, n_steps=2000):
        import torch

        spec = cls._model_class(train.shape, rank)
        params = [torch.as_tensor(c).requires_grad_() for c in _gaussian_cores(model, train, rank, peer_rng(seed))]
        idx = tuple(torch.as_tensor(np.array(train.indices.T)))
        y = torch.as_tensor(np.array(train.values))
        if validation is not None:
            val_idx = tuple(torch.as_tensor(np.array(validation.indices.T)))
            val_y = torch.as_tensor(np.array(validation.values))
        opt = torch.optim.Adam(params, lr=lr)
        best, since, step = (np.inf, 0, None), 0, 0
        with tl.backend_context("pytorch"):
            for step in range(1, (max_steps if validation is not None else n_steps) + 1):
                opt.zero_grad()
                full = spec.to_tensorly(params).to_tensor()
                loss = 0.5 * ((full[idx] - y) ** 2).mean()
                if l2:
                    loss = loss + 0.5 * l2 * sum((p * p).sum() for p in params)
                loss.backward()
                opt.step()
                if validation is not None and step % check_every == 0:
                    with torch.no_grad():
                        full = spec.to_tensorly(params).to_tensor()
                        error = float(((full[val_idx] - val_y) ** 2).mean())
                    if np.isfinite(error) and error < best[0]:
                        best, since = (error, step, full.numpy().copy()), 0
                    else:
                        since += 1
                        if since >= patience:
                            break
            if validation is not None and best[2] is not None:
                return _lookup(best[2]), {"n_steps": best[1]}
            with torch.no_grad():
                full = spec.to_tensorly(params).to_tensor().numpy()
        return _lookup(full), {"n_steps": step}

    if fixed_steps is not None:
        def fixed(train, rank, seed, l2=0.0, validation=None, n_steps=fixed_steps):
            return fit(train, rank, seed, l2=l2, n_steps=n_steps)  # never stops early

        return Method(f"PyTorch Adam loop, {model} ({fixed_steps} steps)", fixed,
                      options=({"n_steps": fixed_steps},))
    return Method(f"PyTorch Adam loop, {model}", fit,
                  reference=lambda train, rank: _init_reference(model, train, rank),
                  uses_validation=True)
