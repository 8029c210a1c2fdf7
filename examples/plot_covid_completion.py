"""
Completing the COVID-19 serology tensor with plain Adam, SAM and DAS
=====================================================================

The serology tensor (438 samples x 6 antigens x 11 receptors) ships with TensorLy.
We observe 30% of its entries, hold out the other 70%, fit a rank-3 CP model with
each update rule and compare training curves, held-out R^2 and the norm deviation Q.
"""

import matplotlib.pyplot as plt

import tensorly_das as td
from tensorly_das.datasets import covid19_completion
from tensorly_das.plot import plot_comparison

observed, held_out = covid19_completion(observed_fraction=0.3, random_state=0)
print(observed, held_out, sep="\n")

fits = {}
for method in ("plain", "sam", "das"):
    fits[method] = td.CPCompletion(rank=3, method=method, random_state=0).fit(observed)
    est = fits[method]
    print(f"{method:>5}: held-out R^2 {est.score(held_out):.4f}, "
          f"{est.n_iter_} passes, {est.time_per_iter_ * 1e3:.2f} ms/pass, "
          f"Q {float(td.norm_deviation(est.cores_)):.3g}")

##############################################################################
# Training loss, validation error (10% of the observed entries, held out from
# training), norm deviation Q and the covariance that drives SAM's balancing.
fig = plot_comparison(fits)
plt.show()
