"""scikit-learn style completion estimators and their function forms.

- :mod:`.base`: parameters, validation and the fit;
- :mod:`.prediction`: predict, score, transform, reconstruct;
- :mod:`.inputs`: the input forms every method takes;
- :mod:`.persistence`: pickling of torch state;
- :mod:`.completion`: the four estimators and ``cp_completion`` & co.
"""

from .completion import (
    CPCompletion,
    TRCompletion,
    TTCompletion,
    TuckerCompletion,
    cp_completion,
    tr_completion,
    tt_completion,
    tucker_completion,
)

__all__ = [
    "CPCompletion",
    "TuckerCompletion",
    "TTCompletion",
    "TRCompletion",
    "cp_completion",
    "tucker_completion",
    "tt_completion",
    "tr_completion",
]
