"""Fuzzing the entry points that take outside data: the CLI's file readers and the
ObservedTensor constructors. The only exceptions allowed out are the documented ones
(``CLIError`` from the readers; ``ValueError`` / ``TypeError`` from the constructors), and
whatever is accepted must be a valid set of observations.

Inputs tried per run (hypothesis ``max_examples``): 400 random files, 400 mutated valid
files, 300 well-formed .npz files with random contents, 300 coordinate constructions,
200 dense constructions, 100 sparse constructions, 40 CLI runs: 1,740 in all.
"""

import io
import os
import tempfile
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from tensorly_das import ObservedTensor  # noqa: E402
from tensorly_das.cli import CLIError, main, read_observations  # noqa: E402

# a silent overflow or lossy cast while reading untrusted input is a failure too
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning", "error::numpy.exceptions.ComplexWarning")

#: derandomized: every run tries the same inputs, so CI is reproducible
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, derandomize=True)


def _valid_files():
    """Bytes of well-formed inputs: a dense .npy, an .npz, a compressed .npz."""
    rng = np.random.default_rng(0)
    dense = rng.standard_normal((4, 3, 5))
    dense[rng.random(dense.shape) < 0.5] = np.nan
    out = {}
    buf = io.BytesIO()
    np.save(buf, dense)
    out[".npy"] = buf.getvalue()
    obs = ObservedTensor.from_dense(dense)
    for name, save in (("plain.npz", np.savez), ("compressed.npz", np.savez_compressed)):
        buf = io.BytesIO()
        save(buf, indices=obs.indices, values=obs.values, shape=np.array(obs.shape))
        out[name] = buf.getvalue()
    return out


VALID = _valid_files()


def _read(data, suffix):
    """read_observations on a temporary file; returns what it returned (CLIError propagates)."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return read_observations(path)
    finally:
        os.unlink(path)


def _check_reader_outcome(data, suffix):
    try:
        obs, dense = _read(data, suffix)
    except CLIError as err:
        assert str(err) and "\n" not in str(err).strip()
        return
    _check_valid(obs)
    assert dense == (suffix == ".npy")


def _check_valid(obs):
    assert obs.nnz >= 1
    assert obs.indices.dtype == np.int64 and obs.indices.shape == (obs.nnz, len(obs.shape))
    assert np.all(obs.indices >= 0) and np.all(obs.indices < np.array(obs.shape))
    assert obs.values.dtype == np.float64 and np.all(np.isfinite(obs.values))
    assert len(np.unique(np.ravel_multi_index(obs.indices.T, obs.shape))) == obs.nnz


MAGIC = st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"PK\x03\x04", b"PK\x05\x06"])


@settings(FUZZ, max_examples=400)
@given(prefix=MAGIC, body=st.binary(max_size=600), suffix=st.sampled_from([".npy", ".npz"]))
def test_random_files_are_refused_or_read(prefix, body, suffix):
    _check_reader_outcome(prefix + body, suffix)


@settings(FUZZ, max_examples=400)
@given(
    name=st.sampled_from(sorted(VALID)),
    cut=st.one_of(st.none(), st.integers(0, 4000)),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=6),
)
def test_truncated_or_corrupted_files_are_refused_or_read(name, cut, flips):
    data = bytearray(VALID[name])
    for position, xor in flips:
        data[position % len(data)] ^= xor
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    _check_reader_outcome(bytes(data), ".npy" if name == ".npy" else ".npz")


ARRAYS = hnp.arrays(
    dtype=st.one_of(hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes(), hnp.complex_number_dtypes(),
                    hnp.unicode_string_dtypes(max_len=3), hnp.datetime64_dtypes()),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
)


@settings(FUZZ, max_examples=300)
@given(contents=st.dictionaries(st.sampled_from(["indices", "values", "shape", "other"]), ARRAYS, max_size=4),
       compressed=st.booleans())
def test_npz_with_random_contents_is_refused_or_read(contents, compressed):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **contents)
    _check_reader_outcome(buf.getvalue(), ".npz")


@settings(FUZZ, max_examples=300)
@given(
    indices=hnp.arrays(
        dtype=st.one_of(hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes()),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    ),
    values=hnp.arrays(dtype=st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes()),
                      shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6)),
    shape=st.one_of(st.none(), st.lists(st.integers(-2, 6), min_size=0, max_size=4).map(tuple)),
    duplicates=st.sampled_from(["error", "mean"]),
)
def test_coordinate_constructor_accepts_only_valid_observations(indices, values, shape, duplicates):
    saved = (indices.copy(), values.copy())
    try:
        obs = ObservedTensor(indices, values, shape=shape, duplicates=duplicates)
    except (ValueError, TypeError) as err:
        assert str(err)
    else:
        _check_valid(obs)
    assert np.array_equal(saved[0], indices, equal_nan=True) and np.array_equal(saved[1], values, equal_nan=True)


@settings(FUZZ, max_examples=200)
@given(
    X=hnp.arrays(dtype=st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes()),
                 shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)),
    use_mask=st.booleans(),
    data=st.data(),
)
def test_dense_constructor_accepts_only_valid_observations(X, use_mask, data):
    mask = data.draw(hnp.arrays(dtype=st.sampled_from([bool, float]), shape=st.sampled_from([X.shape, (2, 2)])))\
        if use_mask else None
    try:
        obs = ObservedTensor.from_dense(X, mask=mask)
    except (ValueError, TypeError) as err:
        assert str(err)
    else:
        _check_valid(obs)


@settings(FUZZ, max_examples=100)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    density=st.floats(0, 1),
    special=st.sampled_from([None, np.nan, np.inf, -np.inf]),
    fmt=st.sampled_from(["coo", "csr", "csc"]),
)
def test_sparse_constructor_accepts_only_valid_observations(shape, density, special, fmt):
    import scipy.sparse

    A = scipy.sparse.random(*shape, density=density, format=fmt, random_state=0)
    if special is not None and A.nnz:
        A.data[0] = special
    try:
        obs = ObservedTensor.from_sparse(A)
    except (ValueError, TypeError) as err:
        assert str(err)
    else:
        _check_valid(obs)
        assert obs.nnz == A.nnz


@settings(FUZZ, max_examples=40)
@given(name=st.sampled_from(sorted(VALID)), cut=st.integers(0, 400), exists=st.booleans())
def test_cli_fit_refuses_damaged_input_in_one_line(tmp_path_factory, name, cut, exists):
    folder = tmp_path_factory.mktemp("cli")
    src = folder / ("x.npy" if name == ".npy" else "x.npz")
    src.write_bytes(VALID[name][:cut])
    out = folder / "out.npz"
    if exists:
        out.write_bytes(b"keep me")
    err = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["fit", str(src), "--max-iter", "3", "-o", str(out)])
    message = err.getvalue()
    assert code != 0 and "Traceback" not in message
    assert len(message.strip().splitlines()) == 1 and message.startswith("tensorly-das: error:")
    if exists:
        assert out.read_bytes() == b"keep me"  # never overwritten without --force
    else:
        assert not out.exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".tensorly-das-")] == []


def test_valid_files_are_read():
    for name, data in VALID.items():
        obs, dense = _read(data, ".npy" if name == ".npy" else ".npz")
        _check_valid(obs)
    with zipfile.ZipFile(io.BytesIO(VALID["plain.npz"])) as z:
        assert sorted(z.namelist()) == ["indices.npy", "shape.npy", "values.npy"]
