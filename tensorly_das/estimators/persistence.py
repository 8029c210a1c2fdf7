"""Pickling of fitted estimators whose state lives in torch tensors (on any device)."""

import warnings

from ..backend import cuda_available, tensors_from_bytes, tensors_to_bytes


class TorchStateMixin:
    """Saves torch tensors in torch's own format, so a CUDA fit unpickles on a CPU-only machine.

    Unpickle only estimators from a source you trust: unpickling runs code.
    """

    #: fitted attributes that may hold torch tensors (on any device)
    _TENSOR_STATE = ("cores_", "decomposition_", "update_")

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the estimator itself keeps its tensors
        if state.get("backend_") == "pytorch":
            state["_torch_state"] = tensors_to_bytes({k: state.pop(k) for k in self._TENSOR_STATE if k in state})
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_torch_state", None)
        if data is not None:
            device = str(state.get("device_", "cpu"))
            to_cpu = device.startswith("cuda") and not cuda_available()
            if to_cpu:
                warnings.warn(
                    f"this {type(self).__name__} was fitted on {device}, which this machine lacks; "
                    "its state is loaded on the CPU (use set_params(device='cpu') to keep training)",
                    UserWarning,
                    stacklevel=2,
                )
                state["device_"] = "cpu"
            try:
                state.update(tensors_from_bytes(data, to_cpu=to_cpu))
            except ImportError as err:
                raise ImportError(
                    f"this {type(self).__name__} was fitted with backend='pytorch' and needs torch to "
                    f"load ({err}); install it, e.g. pip install 'tensorly_das[torch]'") from None
        super().__setstate__(state)
