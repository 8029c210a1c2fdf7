"""The gauge of a contracted index: the change of basis on one bond that lowers the ridge penalty most.

Where two cores share a contracted index of size ``R`` (a Tucker factor and the core, two
neighbouring TT cores), replacing ``left`` by ``left A`` along that index and ``right`` by
``A^{-1} right`` leaves every prediction as it is, for any invertible ``R x R`` matrix ``A``. The
ridge penalty changes: with ``P = L^T L`` (``L``: ``left`` unfolded with the bond last) and
``Q = M M^T`` (``M``: ``right`` unfolded with the bond first), ``||L A||^2 + ||A^{-1} M||^2`` is
lowest, at ``2 tr((S Q S)^{1/2})``, for ``A = S^{-1} (S Q S)^{1/4}`` with ``S = P^{1/2}``; both
sides then hold the same squared norm.

Block least squares moves each core in turn with the others fixed, so with a small ridge it drifts
along these directions of (almost) no change in the objective only slowly; solving the gauge
exactly after every sweep removes that drift (``benchmarks/ridge_path_cost.py --variant norms-only``).
"""

import tensorly as tl

from ..backend import backend_of


def _symmetric_power(eigenvalues, eigenvectors, power):
    return (eigenvectors * eigenvalues[None, :] ** power) @ tl.transpose(eigenvectors)


def balance_bond(left, left_axis, right, right_axis, rcond=1e-10):
    """Change the basis of the index ``left_axis`` of ``left`` / ``right_axis`` of ``right`` (in place)
    to the one with the lowest ``||left||^2 + ||right||^2``; the contraction over it is unchanged.

    Parameters
    ----------
    left, right : arrays
        Two cores contracted over one index of the same size ``R``; updated in place.
    left_axis, right_axis : int
        That index's axis in each.
    rcond : float
        Left as they are when either Gram matrix (``P``, or ``S Q S``) has an eigenvalue at or
        below ``rcond`` times its largest (a rank-deficient side has no unique best basis, and
        its inverse would amplify rounding).

    Returns
    -------
    changed : bool
        Whether the basis was changed.

    Raises
    ------
    ValueError
        When the two axes differ in size (nothing is changed).
    """
    size = left.shape[left_axis]
    if right.shape[right_axis] != size:
        raise ValueError(f"the bond's sizes differ: axis {left_axis} of left has {size} entries, "
                         f"axis {right_axis} of right has {right.shape[right_axis]}")
    with backend_of(left):
        left_moved, right_moved = tl.moveaxis(left, left_axis, -1), tl.moveaxis(right, right_axis, 0)
        lhs = tl.reshape(left_moved, (-1, size))
        rhs = tl.reshape(right_moved, (size, -1))
        p_values, p_vectors = tl.eigh(tl.transpose(lhs) @ lhs)
        if not bool(p_values[0] > rcond * p_values[-1]):
            return False
        root = _symmetric_power(p_values, p_vectors, 0.5)
        inverse_root = _symmetric_power(p_values, p_vectors, -0.5)
        m_values, m_vectors = tl.eigh(root @ (rhs @ tl.transpose(rhs)) @ root)
        if not bool(m_values[0] > rcond * m_values[-1]):
            return False
        change = inverse_root @ _symmetric_power(m_values, m_vectors, 0.25)
        change_inverse = _symmetric_power(m_values, m_vectors, -0.25) @ root
        left[...] = tl.moveaxis(tl.reshape(lhs @ change, left_moved.shape), -1, left_axis)
        right[...] = tl.moveaxis(tl.reshape(change_inverse @ rhs, right_moved.shape), 0, right_axis)
        return True
