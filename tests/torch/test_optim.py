import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tensorly_das.torch import DAS, SAM, TTLinear, add_adapters, tensorized_param_groups  # noqa: E402
from tensorly_das.updates import das_scale_factors  # noqa: E402

from ..conftest import requires_cuda  # noqa: E402


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        TTLinear((4, 4), (4, 2), rank=3), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).double()


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 16, generator=g, dtype=torch.float64), torch.randint(0, 3, (32,), generator=g)


def _loss(net, x, y):
    return torch.nn.functional.cross_entropy(net(x), y)


def _train(net, opt, steps=5, sam=False):
    x, y = _data()
    for _ in range(steps):
        opt.zero_grad()
        _loss(net, x, y).backward()
        if sam:
            opt.step(lambda: (opt.zero_grad(), _loss(net, x, y).backward()))
        else:
            opt.step()
    return [p.detach().clone() for p in net.parameters()]


def test_das_alpha_zero_and_sam_rho_zero_equal_the_base_optimizer():
    net = _net()
    ref = _train(net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9))
    net = _net()
    das = _train(net, DAS(net, lr=0.1, momentum=0.9, alpha=0.0, alpha_schedule="constant"))
    net = _net()
    sam = _train(net, SAM(net.parameters(), lr=0.1, momentum=0.9, rho=0.0), sam=True)
    for a, b, c in zip(ref, das, sam):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(a, c, rtol=0, atol=0)


def test_das_step_follows_eq9_and_leaves_other_params_to_the_base_step():
    net = _net()
    opt = DAS(net, lr=0.05, alpha=3.0, alpha_schedule="constant", max_scale=0.5)
    x, y = _data()
    _loss(net, x, y).backward()
    cores = [p.detach().clone() for p in net[0].weight.cores()]
    grads = [p.grad.clone() for p in net[0].weight.cores()]
    head = [p.detach().clone() for p in net[2].parameters()]
    head_grads = [p.grad.clone() for p in net[2].parameters()]
    lam = das_scale_factors(cores, grads, 0.05, 3.0, max_scale=0.5)
    assert float(lam.abs().max()) > 1e-6  # the scaling does something here
    opt.step()
    for core, g, new, k in zip(cores, grads, net[0].weight.cores(), range(len(cores))):
        torch.testing.assert_close(new.detach(), core * (1 + lam[k]) - 0.05 * g)
    for old, g, new in zip(head, head_grads, net[2].parameters()):
        torch.testing.assert_close(new.detach(), old - 0.05 * g)


def test_das_uses_one_backward_sam_two():
    counts = {"das": 0, "sam": 0}
    for name in counts:
        net = _net()
        x, y = _data()
        opt = DAS(net, lr=0.1, total_steps=10) if name == "das" else SAM(net.parameters(), lr=0.1)

        def closure():
            opt.zero_grad()
            loss = _loss(net, x, y)
            loss.backward()
            counts[name] += 1
            return loss

        closure()
        if name == "das":
            opt.step()
        else:
            opt.step(closure)
    assert counts == {"das": 1, "sam": 2}


def test_sam_gradient_is_taken_at_the_perturbed_point():
    net = _net()
    x, y = _data()
    rho = 0.2
    opt = SAM(net.parameters(), lr=0.1, rho=rho)
    _loss(net, x, y).backward()
    params = [p.detach().clone() for p in net.parameters()]
    grads = [p.grad.clone() for p in net.parameters()]
    norm = torch.sqrt(sum((g * g).sum() for g in grads))
    probe = copy.deepcopy(net)
    with torch.no_grad():
        for p, w, g in zip(probe.parameters(), params, grads):
            p.copy_(w + rho * g / norm)
    _loss(probe, x, y).backward()
    expected = [w - 0.1 * p.grad for w, p in zip(params, probe.parameters())]
    opt.step(lambda: (opt.zero_grad(), _loss(net, x, y).backward()))
    for new, exp in zip(net.parameters(), expected):
        torch.testing.assert_close(new.detach(), exp)


def test_state_dict_round_trip_continues_identically():
    net_a = _net()
    opt_a = DAS(net_a, torch.optim.Adam, lr=1e-2, alpha=5.0, total_steps=20)
    _train(net_a, opt_a, steps=3)
    saved_net, saved_opt = copy.deepcopy(net_a.state_dict()), copy.deepcopy(opt_a.state_dict())
    after_a = _train(net_a, opt_a, steps=3)
    net_b = _net(seed=5)
    net_b.load_state_dict(saved_net)
    opt_b = DAS(net_b, torch.optim.Adam, lr=1e-2, alpha=5.0, total_steps=20)
    opt_b.load_state_dict(saved_opt)
    assert opt_b.steps_done == 3
    after_b = _train(net_b, opt_b, steps=3)
    for a, b in zip(after_a, after_b):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_lr_scheduler_attaches():
    net = _net()
    opt = DAS(net, lr=0.1, total_steps=10)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _train(net, opt, steps=1)
    sched.step()
    assert opt.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    sam = SAM(net.parameters(), lr=0.1)
    sam_sched = torch.optim.lr_scheduler.StepLR(sam.base_optimizer, step_size=1, gamma=0.1)
    _train(net, sam, steps=1, sam=True)
    sam_sched.step()
    assert sam.param_groups[0]["lr"] == pytest.approx(0.01)


def test_diagnostics_report_q_and_covariance_per_layer():
    net = _net()
    opt = DAS(net, lr=0.1, total_steps=10)
    x, y = _data()
    _loss(net, x, y).backward()
    (diag,) = opt.diagnostics()
    assert diag["name"] == "0.weight"
    assert float(diag["norm_deviation"]) >= 0 and diag["covariance"] is not None
    assert len(opt.norm_deviation()) == 1


def test_explicit_param_groups():
    net = _net()
    groups = [
        {"params": list(net[0].weight.cores()), "tensorized": True, "name": "tt"},
        {"params": [net[0].bias] + list(net[2].parameters())},
    ]
    opt = DAS(groups, lr=0.1, alpha_schedule="cosine", total_steps=5)
    _train(net, opt, steps=2)
    assert opt.steps_done == 2


def test_refusals():
    lin = torch.nn.Linear(3, 3)
    with pytest.raises(ValueError, match="no tensorized layer"):
        DAS(lin, lr=0.1, alpha_schedule="constant")
    with pytest.raises(ValueError, match="total_steps"):
        DAS(_net(), lr=0.1)
    with pytest.raises(TypeError, match="base_optimizer"):
        SAM(lin.parameters(), base_optimizer="sgd", lr=0.1)
    with pytest.raises(RuntimeError, match="closure"):
        SAM(lin.parameters(), lr=0.1).step()
    with pytest.raises(ValueError, match="not a DAS state_dict"):
        DAS(_net(), lr=0.1, total_steps=3).load_state_dict({"state": {}})


def test_adapters_start_at_the_base_model_and_train_alone():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.randn(10, 16)
    before = net(x).detach()
    add_adapters(net, ["0"], kind="tucker", rank=2)
    add_adapters(net, ["2"], kind="tt", rank=2, modes={"2": ((2, 4), (1, 3))})
    torch.testing.assert_close(net(x), before)
    groups = tensorized_param_groups(net)
    assert [g["name"] for g in groups if g["tensorized"]] == ["0.delta", "2.delta"]
    assert all(not p.requires_grad for p in net[0].linear.parameters())
    opt = DAS(net, lr=0.1, total_steps=5)
    y = torch.randint(0, 3, (10,))
    frozen = net[0].linear.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    torch.testing.assert_close(net[0].linear.weight.detach(), frozen)
    assert not torch.allclose(net(x), before)


def test_tt_linear_from_linear_is_exact_at_full_rank():
    torch.manual_seed(0)
    lin = torch.nn.Linear(16, 12)
    tt = TTLinear.from_linear(lin, (4, 4), (3, 4), rank=16)
    x = torch.randn(5, 16)
    torch.testing.assert_close(tt(x), lin(x), rtol=1e-4, atol=1e-5)
    small = TTLinear.from_linear(lin, (4, 4), (3, 4), rank=2)
    assert sum(p.numel() for p in small.weight.parameters()) < lin.weight.numel()


@requires_cuda
def test_das_and_sam_on_cuda():
    net = _net().cuda()
    x, y = (t.cuda() for t in _data())
    for opt in (DAS(net, lr=0.1, total_steps=3), SAM(net.parameters(), lr=0.1)):
        opt.zero_grad()
        _loss(net, x, y).backward()
        if isinstance(opt, SAM):
            opt.step(lambda: (opt.zero_grad(), _loss(net, x, y).backward()))
        else:
            opt.step()
        assert all(p.device.type == "cuda" for p in net.parameters())
        assert np.isfinite(float(opt.diagnostics()[0]["norm_deviation"]))


@pytest.mark.parametrize("rebalance", [False, True])
@pytest.mark.parametrize("deviation, denominator", [("paper", "squared"), ("relative", "norm")])
def test_layers_rescaled_together_match_one_layer_at_a_time(rebalance, deviation, denominator):
    from tensorly_das.updates import das_factors

    torch.manual_seed(1)
    net = torch.nn.Sequential(TTLinear((4, 4), (4, 4), rank=3), torch.nn.Tanh(),
                              TTLinear((4, 4), (2, 4), rank=2), torch.nn.Linear(8, 3)).double()
    x, y = _data()
    opt = DAS(net, torch.optim.SGD, lr=0.05, alpha=50.0, alpha_schedule="constant", max_scale=0.3,
              deviation=deviation, denominator=denominator, rebalance=rebalance)
    _loss(net, x, y).backward()
    expected = []
    for layer in (net[0], net[2]):
        cores = [p.detach().clone() for p in layer.weight.cores()]
        lam = das_scale_factors(cores, [p.grad for p in layer.weight.cores()], 0.05, 50.0,
                                denominator, deviation, 0.3)
        factors = das_factors(lam, rebalance)
        expected += [c * f for c, f in zip(cores, factors)]
    opt.base_optimizer.step = lambda: None  # compare the rescaling alone
    opt.step()
    got = [p.detach() for layer in (net[0], net[2]) for p in layer.weight.cores()]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize("kwargs, words", [
    ({"alpha": float("nan")}, "'alpha' parameter"),
    ({"alpha": "0.2"}, "'alpha' parameter"),
    ({"max_scale": -0.1}, "'max_scale' parameter"),
    ({"max_scale": 3.0}, "'max_scale' parameter"),
    ({"total_steps": -5}, "'total_steps' parameter"),
    ({"total_steps": True}, "'total_steps' parameter"),
    ({"deviation": "abs"}, "'deviation' parameter"),
    ({"rebalance": "yes"}, "'rebalance' parameter"),
    ({"gradient_norm": "model"}, "'gradient_norm' parameter"),
])
def test_das_validates_every_argument(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DAS(_net(), lr=0.1, **{"total_steps": 10, **kwargs})


@pytest.mark.parametrize("kwargs", [{"rho": float("nan")}, {"rho": -1.0}, {"adaptive": 1}])
def test_sam_validates_every_argument(kwargs):
    with pytest.raises(ValueError, match="parameter of SAM"):
        SAM(_net().parameters(), lr=0.1, **kwargs)


def test_tt_matrix_takes_input_modes_first_like_nn_linear():
    from tensorly_das.torch.layers import TTMatrix, TuckerMatrix

    assert TTMatrix((2, 3), (4, 5), rank=2)().shape == (20, 6)
    assert TuckerMatrix(6, 20, rank=2)().shape == (20, 6)
    assert TTLinear((2, 3), (4, 5), rank=2)(torch.zeros(1, 6)).shape == (1, 20)


@pytest.mark.parametrize("rebalance", [False, True])
def test_das_group_mixing_float32_and_float64_steps_like_float64(rebalance):
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(3, 4, generator=gen, dtype=torch.float64), torch.randn(4, 2, generator=gen, dtype=torch.float64)]

    def one_step(dtypes):
        cores = [torch.nn.Parameter(c.to(d).clone()) for c, d in zip(start, dtypes)]
        opt = DAS([{"params": cores, "tensorized": True}], lr=0.1, alpha=0.5, deviation="relative",
                  rebalance=rebalance, total_steps=10)
        opt.zero_grad()
        ((cores[0] @ cores[1].to(cores[0].dtype)) ** 2).sum().backward()
        opt.step()
        return [c.detach().double() for c in cores]

    mixed = one_step([torch.float32, torch.float64])
    wide = one_step([torch.float64, torch.float64])
    assert all(torch.allclose(m, w, rtol=1e-5, atol=1e-6) for m, w in zip(mixed, wide))
    assert not torch.allclose(mixed[0], start[0].float().double())  # the step did something


@pytest.mark.parametrize("gradient_norm", ["layer", "global"])
@pytest.mark.parametrize("rebalance", [False, True])
@pytest.mark.parametrize("deviation, denominator", [("paper", "squared"), ("relative", "norm"), ("paper", "norm")])
def test_das_factors_on_the_host_equal_those_kept_on_the_device(rebalance, deviation, denominator, gradient_norm):
    # the CPU path computes the statistics as Python floats, the GPU path as tensors through a
    # membership matrix: both are eq. 9 and must agree (here both run on the CPU)
    torch.manual_seed(2)
    net = torch.nn.Sequential(TTLinear((4, 4), (4, 4), rank=3), torch.nn.Tanh(),
                              TTLinear((4, 4), (4, 4), rank=2), torch.nn.Tanh(),
                              TTLinear((4, 4), (2, 4), rank=2), torch.nn.Linear(8, 3)).double()
    x, y = _data()
    _loss(net, x, y).backward()
    opt = DAS(net, lr=0.05, alpha=50.0, alpha_schedule="constant", max_scale=0.3,
              deviation=deviation, denominator=denominator, rebalance=rebalance)
    cores = [p for layer in (net[0], net[2], net[4]) for p in layer.weight.cores()]
    with torch.no_grad():
        norms = torch._foreach_norm(cores + [p.grad for p in cores])
    # the first and last layers share their settings (rescaled together on the device), the
    # middle one has another learning rate
    same = (0.05 * 50.0, denominator, deviation, 0.3, rebalance, gradient_norm)
    other = (0.02 * 50.0, denominator, deviation, 0.3, rebalance, gradient_norm)
    layers = [(2, same), (2, other), (2, same)]
    grad_norms = list(norms[len(cores):]) + list(torch._foreach_norm(opt._other_grads(cores)))
    global_sq = sum(v.item() ** 2 for v in grad_norms)
    host = DAS._factors_on_host(layers, [v.item() for v in norms], global_sq)
    device = [float(f) for f in opt._factors_on_device(layers, norms, grad_norms)]
    assert len(host) == len(cores) and np.allclose(host, device, rtol=1e-5, atol=0)
    assert max(abs(f - 1.0) for f in host) > 1e-3  # the factors do something


def _norm_changes(make_opt, sam=False):
    """Change of each core's squared norm over one step from a fixed point of a three-core
    product plus a linear term (multilinear in the cores), with SGD at a small learning rate."""
    gen = torch.Generator().manual_seed(3)
    shapes = ((3, 4), (4, 5), (5, 2), (3, 2))
    start = [torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in shapes]
    start[1] *= 3.0  # unequal norms and gradient energies
    x = torch.randn(16, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(16, 2, generator=gen, dtype=torch.float64)
    params = [torch.nn.Parameter(t.clone()) for t in start]
    opt = make_opt([{"params": params[:3], "tensorized": True}, {"params": params[3:]}])

    def closure():
        opt.zero_grad()
        loss = ((x @ params[0] @ params[1] @ params[2] + 30.0 * x @ params[3] - y) ** 2).mean()
        loss.backward()
        return loss

    closure()
    grads = [p.grad.clone() for p in params]
    opt.step(closure) if sam else opt.step()
    change = np.array([float((p.detach() ** 2).sum() - (t ** 2).sum()) for p, t in zip(params[:3], start)])
    return change, grads


@pytest.mark.parametrize("gradient_norm", ["global", "layer"])
def test_das_at_alpha_rho_moves_the_norms_against_each_other_as_sam_does(gradient_norm):
    # Theorem 2 and eq. 9: beyond plain SGD's change, SAM moves ||G_k||^2 by 2 lr rho u ||g_k||^2
    # plus a part shared by the cores, DAS by 2 lr alpha u (||g_k||^2 - gbar); with u over every
    # parameter's gradient they agree at alpha = rho; with the layer's u DAS's is larger by
    # ||g|| / ||g_layer||
    lr, rho = 1e-6, 1e-5  # first order: the terms in lr * (Hessian) and rho^2 vanish
    plain, grads = _norm_changes(lambda groups: torch.optim.SGD(groups, lr=lr))
    sam = _norm_changes(lambda groups: SAM(groups, lr=lr, rho=rho), sam=True)[0] - plain
    das = _norm_changes(lambda groups: DAS(groups, lr=lr, alpha=rho, alpha_schedule="constant", max_scale=0.5,
                                           gradient_norm=gradient_norm))[0] - plain
    sam, das = sam - sam.mean(), das - das.mean()
    ratio = 1.0
    if gradient_norm == "layer":
        ratio = float(sum((g ** 2).sum() for g in grads) ** 0.5 / sum((g ** 2).sum() for g in grads[:3]) ** 0.5)
        assert ratio > 1.2  # the linear term's gradient makes the two norms differ
    assert np.abs(sam).max() > 0
    np.testing.assert_allclose(das, ratio * sam, rtol=0.01, atol=1e-3 * np.abs(sam).max())


def test_step_hooks_fire_once_per_step_and_schedulers_on_the_base_still_work():
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    net = _net()
    x, y = _data()
    opt = DAS(net, lr=0.1, total_steps=10)
    seen = []
    handle = register_optimizer_step_pre_hook(lambda o, args, kwargs: seen.append(type(o).__name__))
    try:
        own = opt.register_step_post_hook(lambda o, args, kwargs: seen.append("post"))
        opt.zero_grad()
        _loss(net, x, y).backward()
        opt.step()
        own.remove()
    finally:
        handle.remove()
    assert seen == ["DAS", "post"]
    # an LR scheduler attached to the base patches the base's step: that one must run
    sched = torch.optim.lr_scheduler.StepLR(opt.base_optimizer, step_size=1, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "lr_scheduler.step() before optimizer.step()" warning
        opt.zero_grad()
        _loss(net, x, y).backward()
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
