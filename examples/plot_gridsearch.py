"""
Choosing rank and regularization with GridSearchCV
==================================================

The estimators follow scikit-learn's regressor form ``fit(indices, values)``, so
``GridSearchCV`` cross-validates over the *observed* entries. Here: CP rank and ``l2_reg`` on
the COVID-19 completion split, scored on the 70% held-out entries only at the end.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

import tensorly_das as td
from tensorly_das.datasets import covid19_completion

observed, held_out = covid19_completion(observed_fraction=0.3, random_state=0)
grid = {"rank": [2, 4, 6], "l2_reg": [0.0, 1e-3, 1e-2]}
search = GridSearchCV(
    td.CPCompletion(shape=observed.shape, method="das", random_state=0),
    grid,
    cv=KFold(3, shuffle=True, random_state=0),
)
search.fit(observed.indices, observed.values)
print("best parameters:", search.best_params_)
print(f"cross-validated R^2 {search.best_score_:.4f}; held-out R^2 {search.best_estimator_.score(held_out):.4f}")

##############################################################################
# Mean cross-validated R^2 over the grid.
scores = search.cv_results_["mean_test_score"].reshape(len(grid["rank"]), len(grid["l2_reg"]))
fig, ax = plt.subplots(figsize=(4, 3))
image = ax.imshow(np.clip(scores, 0, None), cmap="viridis")
ax.set_xticks(range(len(grid["l2_reg"])), [str(v) for v in grid["l2_reg"]])
ax.set_yticks(range(len(grid["rank"])), [str(v) for v in grid["rank"]])
ax.set_xlabel("l2_reg")
ax.set_ylabel("rank")
fig.colorbar(image, label="CV R^2 (clipped at 0)")
fig.tight_layout()
plt.show()
