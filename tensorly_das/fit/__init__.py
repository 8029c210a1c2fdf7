"""The one fit loop shared by every model and update rule.

It knows nothing about a particular decomposition or backend. It is made of parts with
one job each:

- :mod:`.objective`: the loss and gradients the update rule sees (model, all-reduce, ridge);
- :mod:`.batches`: one pass over the training entries, one update step per (mini-)batch;
- :mod:`.monitor`: history, early stopping and the best state;
- :mod:`.guard`: the divergence guard and the last finite state;
- :mod:`.loop`: :func:`fit_cores`, which runs them pass after pass.
"""

from .guard import DivergenceError
from .loop import fit_cores
from .monitor import HISTORY_KEYS
from .objective import make_objective, rmse

__all__ = ["fit_cores", "DivergenceError", "HISTORY_KEYS", "make_objective", "rmse"]
