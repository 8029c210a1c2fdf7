"""The four completion estimators and their function forms (TensorLy's function-plus-class shape)."""

from ..models import CPModel, TRModel, TTModel, TuckerModel
from .base import BaseCompletion
from .docstring import EXAMPLE_SETUP, FUNCTION_DOC, document


class CPCompletion(BaseCompletion):
    _model_class = CPModel


class TuckerCompletion(BaseCompletion):
    _model_class = TuckerModel


class TTCompletion(BaseCompletion):
    _model_class = TTModel


class TRCompletion(BaseCompletion):
    _model_class = TRModel


document(
    CPCompletion,
    title="CP",
    formula="``X[i_1, ..., i_N] = sum_r prod_n A_n[i_n, r]``",
    cost="O(nnz * N * R)",
    rank_type="int",
    rank_default="5",
    rank_doc="Number of CP components.",
    tensorly_name="CPTensor",
    tensorly_path="tensorly.cp_tensor.CPTensor",
    cores_doc="The factor matrices ``A_n`` of shape ``(I_n, R)`` (weights are ones).",
    example_rank="2",
)
document(
    TuckerCompletion,
    title="Tucker",
    formula="``X[i_1, ..., i_N] = sum_r G[r_1, ..., r_N] prod_n A_n[i_n, r_n]``",
    cost="O(nnz * (sum_n R_n + prod_n R_n))",
    rank_type="int or tuple of int",
    rank_default="5",
    rank_doc="Multilinear rank ``(R_1, ..., R_N)``; an int is used for every mode. "
    "Each ``R_n`` must not exceed the mode's size ``I_n``.",
    tensorly_name="TuckerTensor",
    tensorly_path="tensorly.tucker_tensor.TuckerTensor",
    cores_doc="``[G, A_1, ..., A_N]``: the core tensor, then the factor matrices.",
    example_rank="(2, 2, 2)",
)
document(
    TTCompletion,
    title="Tensor-Train",
    formula="``X[i_1, ..., i_N] = G_1[:, i_1, :] @ ... @ G_N[:, i_N, :]``",
    cost="O(nnz * N * R^2)",
    rank_type="int or tuple of int",
    rank_default="5",
    rank_doc="TT rank ``(1, r_1, ..., r_{{N-1}}, 1)``; an int ``r`` gives ``(1, r, ..., r, 1)``.",
    tensorly_name="TTTensor",
    tensorly_path="tensorly.tt_tensor.TTTensor",
    cores_doc="The N cores ``G_n`` of shape ``(r_{{n-1}}, I_n, r_n)``.",
    example_rank="2",
)
document(
    TRCompletion,
    title="Tensor-Ring",
    formula="``X[i_1, ..., i_N] = trace(G_1[:, i_1, :] @ ... @ G_N[:, i_N, :])``",
    cost="O(nnz * N * R^3)",
    rank_type="int or tuple of int",
    rank_default="5",
    rank_doc="TR rank ``(r_0, r_1, ..., r_{{N-1}}, r_0)``; an int ``r`` gives ``(r, ..., r)``.",
    tensorly_name="TRTensor",
    tensorly_path="tensorly.tr_tensor.TRTensor",
    cores_doc="The N cores ``G_n`` of shape ``(r_{{n-1}}, I_n, r_n)``, with ``r_N = r_0``.",
    example_rank="2",
)


def _function_form(cls):
    def complete(X, rank=5, *, y=None, mask=None, return_estimator=False, **params):
        estimator = cls(rank=rank, **params).fit(X, y, mask=mask)
        return (estimator.decomposition_, estimator) if return_estimator else estimator.decomposition_

    complete.__name__ = complete.__qualname__ = cls._function_name
    complete.__doc__ = FUNCTION_DOC.format(name=cls._function_name, cls=cls.__name__,
                                           example_setup=EXAMPLE_SETUP, **cls._doc_fields)
    return complete


CPCompletion._function_name = "cp_completion"
TuckerCompletion._function_name = "tucker_completion"
TTCompletion._function_name = "tt_completion"
TRCompletion._function_name = "tr_completion"
cp_completion = _function_form(CPCompletion)
tucker_completion = _function_form(TuckerCompletion)
tt_completion = _function_form(TTCompletion)
tr_completion = _function_form(TRCompletion)
