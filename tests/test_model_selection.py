import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

import tensorly_das as td
from tensorly_das.model_selection import rank_size

from .conftest import low_rank_problem


def _results(ranks, means, stds, n_splits=3):
    out = {"params": [{"rank": r} for r in ranks], "mean_test_score": np.array(means),
           "std_test_score": np.array(stds)}
    for k in range(n_splits):
        out[f"split{k}_test_score"] = np.zeros(len(ranks))
    return out


def test_one_standard_error_rule_takes_the_simplest_close_candidate():
    rule = td.one_standard_error_rule("rank")
    # rank 4 is within one standard error (0.03 / sqrt(3) = 0.017) of the best (rank 6)
    assert rule(_results([2, 4, 6], [0.5, 0.985, 0.99], [0.1, 0.01, 0.03])) == 1
    # with a tight best score, the best itself wins
    assert rule(_results([2, 4, 6], [0.5, 0.985, 0.99], [0.1, 0.01, 0.001])) == 2
    # tuples compare by their product; NaN scores never win
    assert rule(_results([(2, 2), (3, 3), (5, 5)], [np.nan, 0.9, 0.91], [0, 0.01, 0.05])) == 1
    assert rank_size((1, 3, 3, 1)) == 9 and rank_size(4) == 4


def test_scores_closer_than_min_difference_are_ties():
    # noise-free fits: every rank from the truth up scores 1 - 1e-11 or so, the folds agree to
    # 1e-12; the standard error alone would keep the best (largest) rank
    means, stds = [0.78, 1 - 3.6e-11, 1 - 1.0e-11, 1 - 5e-12], [1e-2, 1.6e-11, 1.9e-12, 2.2e-13]
    ranks = [(3, 3, 3), (4, 4, 4), (5, 5, 5), (6, 6, 6)]
    assert td.one_standard_error_rule()(_results(ranks, means, stds)) == 1
    assert td.one_standard_error_rule(min_difference=0.0)(_results(ranks, means, stds)) == 3
    # a real gap stays a gap
    assert td.one_standard_error_rule()(_results(ranks, [0.78, 0.99, 0.995, 0.995], [0, 1e-4, 1e-4, 1e-4])) == 2


@pytest.mark.parametrize("bad", [-1e-6, float("nan"), float("inf"), "1e-6", None, True])
def test_min_difference_must_be_a_finite_non_negative_number(bad):
    with pytest.raises(ValueError, match="min_difference"):
        td.one_standard_error_rule(min_difference=bad)


def test_gridsearch_with_the_rule_refits_the_chosen_rank():
    obs, _ = low_rank_problem(fraction=0.6)
    search = GridSearchCV(td.CPCompletion(shape=obs.shape, max_iter=300, random_state=0),
                          {"rank": [1, 3, 5]}, cv=KFold(3, shuffle=True, random_state=0),
                          refit=td.one_standard_error_rule())
    search.fit(obs.indices, obs.values)
    chosen = search.cv_results_["params"][search.best_index_]["rank"]
    assert search.best_estimator_.rank == chosen
    mean, std = search.cv_results_["mean_test_score"], search.cv_results_["std_test_score"]
    best = int(np.argmax(mean))
    assert mean[search.best_index_] >= mean[best] - std[best] / np.sqrt(3)
    assert chosen <= search.cv_results_["params"][best]["rank"]
    with pytest.raises(KeyError):
        td.one_standard_error_rule("l2_reg")(search.cv_results_)  # a parameter that was not searched
