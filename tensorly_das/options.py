"""The one home of every option set and parameter rule.

The estimators, the torch optimizers and the command line all name their choices from
the tuples below and check numbers with the constraint objects below (scikit-learn's
``_parameter_constraints`` machinery), so a choice or a bound is written once.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

#: update rules wrapped around the base step
METHODS = ("plain", "sam", "das")
#: base steps: first-order (Adam, SGD) and block least squares ("als")
SOLVERS = ("adam", "sgd", "als")
#: how the DAS strength decays over training
ALPHA_SCHEDULES = ("linear", "cosine", "constant")
#: DAS divides its deviation by ``||G_k||^2`` ("squared", the paper) or ``||G_k||`` ("norm")
DAS_DENOMINATORS = ("squared", "norm")
#: DAS numerator in the paper's units ("paper") or relative to the mean ("relative")
DAS_DEVIATIONS = ("paper", "relative")
#: the gradient norm in DAS's ``u = 1 / ||g||`` on a network: the layer's cores' ("layer", the
#: authors' network code) or every parameter's ("global", SAM's radius; the paper's Theorem A.2)
DAS_GRADIENT_NORMS = ("layer", "global")
#: array backends of the estimators (``"torch"`` is accepted as an alias of ``"pytorch"``)
BACKENDS = ("numpy", "pytorch")
#: floating dtypes of the cores
DTYPES = ("float32", "float64")
#: named initializations
INITS = ("spectral", "random")


class Number(Interval):
    """A finite real (or integer) in a range; an integer constraint refuses booleans.

    Parameters
    ----------
    kind : {numbers.Real, numbers.Integral}
        Real numbers or integers.
    left, right : float or None
        Bounds (None: unbounded on that side).
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the range.
    """

    def __init__(self, kind, left, right, *, closed):
        super().__init__(kind, left, right, closed=closed)

    def is_satisfied_by(self, val):
        if self.type is numbers.Integral and not is_integer(val):
            return False
        if isinstance(val, numbers.Real) and not np.isfinite(val):
            return False
        return super().is_satisfied_by(val)

    def __str__(self):
        return super().__str__().replace("float", "finite float")


def positive_int():
    """The constraint "an integer >= 1 (not a bool)"."""
    return Number(numbers.Integral, 1, None, closed="left")


def real(low=None, high=None, closed="both"):
    """The constraint "a finite real number in [low, high]" (bounds per ``closed``)."""
    return Number(numbers.Real, low, high, closed=closed)


def choice(options):
    """The constraint "one of the strings ``options``"."""
    return StrOptions(set(options))


def check_params(constraints, params, caller):
    """Validate ``params`` (a dict) against ``constraints``; raise one clear error.

    Parameters
    ----------
    constraints : dict
        Parameter name -> list of constraints (scikit-learn's format).
    params : dict
        Parameter name -> value.
    caller : str
        Named in the message (e.g. the class).

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A ``ValueError`` and ``TypeError`` naming the parameter, the rule and the value.
    """
    validate_parameter_constraints(constraints, params, caller_name=caller)


def is_integer(value):
    """True for an integer (Python or NumPy) that is not a bool.

    Parameters
    ----------
    value : object
        The candidate.

    Returns
    -------
    bool
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value, name):
    """Return ``value`` as an int when it is an integer >= 1 (not a bool), else raise.

    Parameters
    ----------
    value : object
        The candidate.
    name : str
        Named in the message.

    Returns
    -------
    value : int
    """
    if not is_integer(value):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(value):
    """A memory size in bytes from a positive number or a string such as ``"4GB"``,
    ``"512 MiB"`` or ``"1e9"``.

    Parameters
    ----------
    value : int, float or str
        The size.

    Returns
    -------
    bytes : int
    """
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        number = text.rstrip("bkmgtib")
        unit = text[len(number):]
        try:
            size = float(number) * _BYTE_UNITS[unit]
        except (ValueError, KeyError):
            raise ValueError(f"max_memory must be bytes or a size such as '4GB' or '512MiB', "
                             f"got {value!r}") from None
    elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        size = float(value)
    else:
        raise TypeError(f"max_memory must be a number of bytes or a string such as '4GB', got {value!r}")
    if not np.isfinite(size) or size < 1:
        raise ValueError(f"max_memory must be a positive, finite size, got {value!r}")
    return int(size)
