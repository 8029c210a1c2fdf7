"""Pickling of fitted estimators whose state lives in torch tensors (on any device)."""

import io
import warnings


class TorchStateMixin:
    """Saves torch tensors in torch's own format, so a CUDA fit unpickles on a CPU-only machine.

    Unpickle only estimators from a source you trust: unpickling runs code.
    """

    #: fitted attributes that may hold torch tensors (on any device)
    _TENSOR_STATE = ("cores_", "decomposition_", "update_")

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the estimator itself keeps its tensors
        if state.get("backend_") == "pytorch":
            import torch

            # torch's own format, so a CUDA fit can be mapped to the CPU when unpickled
            buffer = io.BytesIO()
            torch.save({k: state.pop(k) for k in self._TENSOR_STATE if k in state}, buffer)
            state["_torch_state"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        state = dict(state)
        tensors = state.pop("_torch_state", None)
        if tensors is not None:
            try:
                import torch
            except ImportError as err:
                raise ImportError(
                    f"this {type(self).__name__} was fitted with backend='pytorch'; unpickling it "
                    "needs PyTorch: pip install 'tensorly_das[torch]'"
                ) from err

            device = str(state.get("device_", "cpu"))
            map_location = None
            if device.startswith("cuda") and not torch.cuda.is_available():
                warnings.warn(
                    f"this {type(self).__name__} was fitted on {device}, which this machine lacks; "
                    "its state is loaded on the CPU (use set_params(device='cpu') to keep training)",
                    UserWarning,
                    stacklevel=2,
                )
                map_location, state["device_"] = "cpu", "cpu"
            state.update(torch.load(io.BytesIO(tensors), map_location=map_location, weights_only=False))
        super().__setstate__(state)
