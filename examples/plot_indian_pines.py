"""
Hyperspectral completion: Indian Pines with 90% of the pixels missing
=====================================================================

The Indian Pines image (145 x 145 pixels, 200 spectral bands) ships with TensorLy. To keep
the example fast we take a 64 x 64 crop and every fifth band, observe 10% of the entries at
random, and complete the rest with a Tucker model. The figure shows one band: the truth, what
was observed, and the completion.
"""

import matplotlib.pyplot as plt
import numpy as np
from tensorly.datasets import load_indian_pines

import tensorly_das as td

cube = np.asarray(load_indian_pines().tensor, dtype=float)[:64, :64, ::5]
cube = (cube - cube.mean()) / cube.std()
rng = np.random.default_rng(0)
observed_mask = rng.random(cube.shape) < 0.10
X = np.where(observed_mask, cube, np.nan)
print(f"tensor {cube.shape}, {observed_mask.sum()} observed entries")

est = td.TuckerCompletion(rank=(8, 8, 5), l2_reg=1e-4, random_state=0).fit(X)
completed = est.transform(X)  # X with its missing entries filled
missing = ~observed_mask
print(f"held-out R^2 on the missing entries: {td.r2_score(cube[missing], completed[missing]):.3f} "
      f"({est.n_iter_} passes, {est.fit_time_:.1f} s)")

##############################################################################
# One band: truth, observed pixels (white = missing), completion.
band = 20
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
vmin, vmax = np.percentile(cube[..., band], [1, 99])
shown = np.where(observed_mask[..., band], cube[..., band], np.nan)
for ax, image, title in zip(axes, (cube[..., band], shown, completed[..., band]),
                            ("truth", "observed (10%)", "completed")):
    ax.imshow(image, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
plt.show()
