"""
Completing a NumPy array with missing values
============================================

NaN marks what is missing. ``fit`` never builds anything dense besides what you pass in;
``transform`` returns the completed array.
"""

import numpy as np
import tensorly as tl

import tensorly_das as td

rng = np.random.default_rng(0)
factors = [rng.standard_normal((n, 3)) for n in (30, 20, 10)]
truth = tl.cp_to_tensor((np.ones(3), factors))

X = truth.copy()
X[rng.random(X.shape) < 0.8] = np.nan  # 80% missing
print(f"observed entries: {np.isfinite(X).mean():.0%}")

est = td.CPCompletion(rank=3, random_state=0).fit(X)
completed = est.transform(X)  # X with its missing entries filled
missing = np.isnan(X)
error = np.linalg.norm(completed[missing] - truth[missing]) / np.linalg.norm(truth[missing])
print(f"relative error on the missing entries: {error:.2e} after {est.n_iter_} passes")
print(est.decomposition_)
