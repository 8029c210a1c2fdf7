"""
Tucker completion of the COVID-19 serology tensor: plain Adam, SAM and DAS
===========================================================================

The serology tensor (438 samples x 6 antigens x 11 receptors) ships with TensorLy.
We observe 30% of its entries, hold out the other 70%, fit a Tucker model of rank
(5, 4, 5) with each update rule on the same base step (Adam: SAM and DAS need a gradient
step, so ``solver="adam"`` is set for all three; the default for plain would be block least
squares), and compare the training loss, the validation error (10% of the observed entries,
held out of training), the norm deviation Q and the covariance that drives SAM's balancing.
"""

import matplotlib.pyplot as plt

import tensorly_das as td
from tensorly_das.datasets import covid19_completion
from tensorly_das.plot import plot_comparison

observed, held_out = covid19_completion(observed_fraction=0.3, random_state=0)
print(observed, held_out, sep="\n")

fits = {}
for method in ("plain", "sam", "das"):
    est = td.TuckerCompletion(rank=(5, 4, 5), method=method, solver="adam", l2_reg=1e-3, random_state=0)
    fits[method] = est.fit(observed)
    print(f"{method:>5}: held-out R^2 {est.score(held_out):.4f}, "
          f"{est.n_iter_} passes, {est.time_per_iter_ * 1e3:.2f} ms/pass, "
          f"Q {float(td.norm_deviation(est.cores_)):.3g}")

##############################################################################
# Curves per pass. The validation RMSE is measured on entries held out of training;
# the 70% held-out entries are used only for the R^2 printed above.
fig = plot_comparison(fits)
plt.show()
