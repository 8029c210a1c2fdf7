"""The spectral start's refinement: Tucker block least-squares sweeps on the observations."""

import numpy as np
import pytest
import tensorly as tl

from tensorly_das.models import CPModel, TTModel, TuckerModel
from tensorly_das.starts import spectral_cores
from tensorly_das.starts.refine import refinable, refine_subspaces, refined_dims, refinement_memory
from tensorly_das.starts.spectral import mode_subspace, projected_core, spectral_memory


def _sparse_cp(seed, shape=(30, 30, 30), rank=4, fraction=0.08):
    """A rank-``rank`` CP truth and ``fraction`` of its entries (its spectral bases, its core)."""
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((n, rank)) for n in shape]
    X = tl.cp_to_tensor((np.ones(rank), factors))
    mask = rng.random(shape) < fraction
    idx, values = np.argwhere(mask), X[mask]
    bases = [mode_subspace(idx, values, shape, n, rank) for n in range(len(shape))]
    core = projected_core(idx, values / mask.mean(), bases)
    return factors, idx, values, bases, core


def _worst_cosine(bases, factors):
    """Cosine of the largest principal angle between each basis and the true factor's span."""
    return min(np.linalg.svd(U.T @ np.linalg.qr(A)[0], compute_uv=False).min() for U, A in zip(bases, factors))


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_sweeps_recover_the_direction_the_spectral_estimate_misses(seed):
    factors, idx, values, bases, core = _sparse_cp(seed)
    assert _worst_cosine(bases, factors) < 0.3  # at 8% observed a direction drowns in noise
    refined, _ = refine_subspaces((30, 30, 30), bases, core, idx, values)
    assert _worst_cosine(refined, factors) > 0.99


def test_refined_bases_are_orthonormal_and_fit_the_observations_better():
    factors, idx, values, bases, core = _sparse_cp(3)
    refined, refined_core = refine_subspaces((30, 30, 30), bases, core, idx, values)
    for U in refined:
        np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-10)
    model = TuckerModel((30, 30, 30), (4, 4, 4))
    columns = [idx[:, n].copy() for n in range(3)]

    def error(core, bases):
        # the spectral core is a projection, not a fit: compare at its least-squares scale
        pred = model.predict([core] + list(bases), columns)
        scale = (pred @ values) / (pred @ pred)
        return np.linalg.norm(scale * pred - values)

    assert error(refined_core, refined) < 0.5 * error(core, bases)
    assert core.shape == refined_core.shape == (4, 4, 4)


def test_the_inputs_are_left_alone():
    _, idx, values, bases, core = _sparse_cp(1)
    copies = [b.copy() for b in bases], core.copy(), idx.copy(), values.copy()
    refine_subspaces((30, 30, 30), bases, core, idx, values)
    for b, c in zip(bases, copies[0]):
        np.testing.assert_array_equal(b, c)
    np.testing.assert_array_equal(core, copies[1])
    np.testing.assert_array_equal(idx, copies[2])
    np.testing.assert_array_equal(values, copies[3])


def _weighted_cp(seed, shape=(40, 40, 40), fraction=0.054, noise=0.1):
    """The rank-selection folds' setting: a CP rank-4 truth whose components differ in weight
    (:meth:`CPModel.init_cores`), 5.4% of its entries observed with 10% noise."""
    rng = np.random.default_rng(seed)
    model = CPModel(shape, 4)
    truth = model.init_cores(rng, 1.0)
    n = int(fraction * np.prod(shape))
    idx = np.stack(np.unravel_index(rng.choice(np.prod(shape), n, replace=False), shape), 1)
    clean = model.predict(truth, [idx[:, m].copy() for m in range(3)])
    e = rng.standard_normal(n)
    return truth, idx, clean + noise * np.linalg.norm(clean) / np.linalg.norm(e) * e


@pytest.mark.parametrize("seed", [3, 12, 48])
def test_an_extra_direction_lets_the_refinement_find_the_weakest_component(seed):
    # seeds where the tight (rank-4) refined subspaces still miss the weakest component: with
    # one extra direction per mode the refined subspaces contain it
    truth, idx, values = _weighted_cp(seed)
    shape, p = (40, 40, 40), len(values) / 40**3
    refined = []
    for dim in (4, 5):
        bases = [mode_subspace(idx, values, shape, n, dim) for n in range(3)]
        refined.append(refine_subspaces(shape, bases, projected_core(idx, values / p, bases), idx, values)[0])
    assert _worst_cosine(refined[0], truth) < 0.2
    assert _worst_cosine(refined[1], truth) > 0.99


def test_the_refined_dimensions_widen_only_where_the_core_stays_refinable(monkeypatch):
    from tensorly_das.starts import refine

    assert refined_dims((4, 4, 4), (40, 40, 40), 3000) == (5, 5, 5)
    assert refined_dims((4, 4, 4), (40, 5, 4), 3000) == (5, 5, 4)  # at most the observed rows
    assert refined_dims((8, 8, 8), (40, 40, 40), 10**5) == (8, 8, 8)  # 729 > 512: kept tight
    assert refined_dims((4, 4, 4), (40, 40, 40), 140) == (4, 4, 4)  # too few entries for 5^3
    monkeypatch.setattr(refine, "REFINE_SWEEPS", 0)  # nothing refined: the model's dimensions
    assert refined_dims((4, 4, 4), (40, 40, 40), 3000) == (4, 4, 4)
    monkeypatch.setattr(refine, "REFINE_SWEEPS", 5)
    monkeypatch.setattr(refine, "REFINE_OVERSAMPLE", 0)
    assert refined_dims((4, 4, 4), (40, 40, 40), 3000) == (4, 4, 4)


def test_the_cp_start_uses_the_widened_subspaces(monkeypatch):
    import tensorly_das.starts.spectral as spectral

    _, idx, values, _, _ = _sparse_cp(1)
    seen = []
    real = CPModel.from_subspaces
    monkeypatch.setattr(CPModel, "from_subspaces",
                        lambda self, b, c, rng: seen.append((b, c)) or real(self, b, c, rng))
    cores = spectral.spectral_cores(CPModel((30, 30, 30), 4), idx, values, np.random.default_rng(0))
    bases, core = seen[0]
    assert [b.shape for b in bases] == [(30, 5)] * 3 and core.shape == (5, 5, 5)
    assert [c.shape for c in cores] == [(30, 4)] * 3  # the model's own rank
    np.testing.assert_allclose(bases[0].T @ bases[0], np.eye(5), atol=1e-10)


def test_only_small_exactly_solved_cores_with_enough_entries_are_refined():
    assert refinable((4, 4, 4), 1000)
    assert not refinable((4, 4, 4), 70)  # fewer entries than the Tucker model's unknowns
    assert not refinable((9, 9, 9), 10**6)  # 729 unknowns in the core: conjugate gradients
    assert refinement_memory((30, 30, 30), (9, 9, 9), 10**6) == 0
    assert refinement_memory((30, 30, 30), (4, 4, 4), 2000) > 0
    # the start's memory estimate covers the refinement's solver
    assert spectral_memory(CPModel((30, 30, 30), 4), 2000) >= refinement_memory((30, 30, 30), (4, 4, 4), 2000)


def test_spectral_start_refines_cp_only(monkeypatch):
    _, idx, values, _, _ = _sparse_cp(1)
    calls = []
    import tensorly_das.starts.spectral as spectral

    real = spectral.refine_subspaces
    monkeypatch.setattr(spectral, "refine_subspaces", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(0)
    spectral_cores(CPModel((30, 30, 30), 4), idx, values, rng)
    assert calls == [1]
    spectral_cores(TuckerModel((30, 30, 30), (4, 4, 4)), idx, values, rng)
    assert calls == [1]  # the Tucker fit is the refinement
    spectral_cores(TTModel((30, 30, 30), 2), idx, values, rng)  # (2, 4, 2): small, yet not refined
    assert calls == [1]
    spectral_cores(CPModel((30, 30, 30), 9), idx, values, rng)  # a 729-entry core is too wide
    assert calls == [1]


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(bases=a["bases"][:2]), "one basis per mode"),
    (lambda a: a.update(bases=[a["bases"][0][:5]] + a["bases"][1:]), "basis 0 must have shape"),
    (lambda a: a.update(core=a["core"][:2]), "the core must have"),
    (lambda a: a.update(values=a["values"][:-1]), "values must have shape"),
    (lambda a: a.update(indices=a["indices"] + np.array([0, 0, 30])), "out of range"),
    (lambda a: a.update(values=np.where(np.arange(a["values"].size) == 3, np.nan, a["values"])), "finite"),
    (lambda a: a.update(sweeps=-1), "sweeps must be"),
])
def test_bad_inputs_are_named_and_nothing_is_modified(change, message):
    _, idx, values, bases, core = _sparse_cp(1)
    args = dict(bases=bases, core=core, indices=idx, values=values, sweeps=None)
    change(args)
    copies = {k: [b.copy() for b in v] if k == "bases" else np.copy(v) for k, v in args.items() if k != "sweeps"}
    with pytest.raises(ValueError, match=message):
        refine_subspaces((30, 30, 30), args["bases"], args["core"], args["indices"], args["values"],
                         sweeps=args["sweeps"])
    for key, kept in copies.items():
        if key == "bases":
            for b, c in zip(args["bases"], kept):
                np.testing.assert_array_equal(b, c)
        else:
            np.testing.assert_array_equal(args[key], kept)


def test_zero_sweeps_return_the_spectral_estimate_in_an_orthonormal_form():
    _, idx, values, bases, core = _sparse_cp(1)
    same, same_core = refine_subspaces((30, 30, 30), bases, core, idx, values, sweeps=0)
    model = TuckerModel((30, 30, 30), (4, 4, 4))
    columns = [idx[:, n].copy() for n in range(3)]
    np.testing.assert_allclose(model.predict([same_core] + same, columns),
                               model.predict([core] + bases, columns), rtol=1e-9, atol=1e-9)
