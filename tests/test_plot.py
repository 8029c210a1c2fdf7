import numpy as np
import pytest

from tensorly_das import CPCompletion

from .conftest import low_rank_problem

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_plot_history_and_comparison(tmp_path):
    from tensorly_das.plot import plot_comparison, plot_history

    obs, _ = low_rank_problem(fraction=0.5)
    a = CPCompletion(rank=3, method="plain", max_iter=30, random_state=0).fit(obs)
    b = CPCompletion(rank=3, method="sam", max_iter=30, random_state=0).fit(obs)
    axes = plot_history(a)
    assert len(axes) == 4
    line = axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), a.history_["loss"])
    fig = plot_comparison({"plain": a, "sam": b})
    fig.savefig(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="unknown history keys"):
        plot_history(a, keys=("nope",))
    with pytest.raises(TypeError, match="fitted estimator"):
        plot_history(CPCompletion())


def test_panels_and_their_labels_do_not_overlap_and_stay_inside_the_figure():
    import matplotlib

    matplotlib.use("Agg")
    from tensorly_das import CPCompletion
    from tensorly_das.plot import plot_comparison

    from .conftest import low_rank_problem

    obs, _ = low_rank_problem(fraction=0.5)
    fits = {m: CPCompletion(rank=3, method=m, max_iter=20, random_state=0).fit(obs) for m in ("plain", "das")}
    fig = plot_comparison(fits)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    page = fig.bbox
    for k, box in enumerate(boxes):
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1
        for other in boxes[k + 1 :]:
            assert not box.overlaps(other), "two panels (with their labels) overlap"
