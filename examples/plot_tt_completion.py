"""
Tensor-Train completion of a 5-way tensor
=========================================

A TT tensor of rank 3 and shape 10^5 (100,000 entries) is observed at 5% of its entries with
5% noise. ``TTCompletion`` recovers it; the held-out error is measured against the noiseless
tensor on entries never observed.
"""

import matplotlib.pyplot as plt
import numpy as np

import tensorly_das as td
from tensorly_das.models import TTModel

shape, rank = (10,) * 5, 3
truth_model = TTModel(shape, rank)
rng = np.random.default_rng(0)
cores = [rng.standard_normal(s) for s in truth_model.core_shapes()]
flat = rng.permutation(int(np.prod(shape)))
observed_idx = np.stack(np.unravel_index(flat[:5000], shape), axis=1)
held_idx = np.stack(np.unravel_index(flat[5000:25000], shape), axis=1)


def truth(idx):
    return truth_model.predict(cores, [idx[:, n].copy() for n in range(len(shape))])


clean = truth(observed_idx)
noise = rng.standard_normal(len(clean))
values = clean + 0.05 * np.linalg.norm(clean) / np.linalg.norm(noise) * noise

est = td.TTCompletion(rank=rank, random_state=0, n_init=2).fit(observed_idx, values)
print(f"held-out NRMSE vs the noiseless tensor: {td.nrmse(truth(held_idx), est.predict(held_idx)):.4f}")
print(f"{est.n_iter_} passes, {est.fit_time_:.1f} s; result: {type(est.decomposition_).__name__}")

##############################################################################
# Training loss and validation RMSE per pass.
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogy(est.history_["loss"], label="training loss")
ax.semilogy(est.history_["val_rmse"], label="validation RMSE")
ax.set_xlabel("pass")
ax.legend()
fig.tight_layout()
plt.show()
