"""tensorly-torch interplay: layer discovery, and TensorLy's global backend switch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tl = pytest.importorskip("tensorly")


@pytest.fixture
def tltorch():
    before = tl.get_backend()
    module = pytest.importorskip("tltorch")  # importing it sets TensorLy's backend to pytorch
    tl.set_backend("pytorch")
    yield module
    tl.set_backend(before)


def test_package_unaffected_by_global_pytorch_backend(tltorch):
    import tensorly_das as td

    from ..conftest import low_rank_problem

    assert tl.get_backend() == "pytorch"
    obs, X = low_rank_problem(fraction=0.6)
    for est_cls, rank in ((td.CPCompletion, 3), (td.TuckerCompletion, 3), (td.TTCompletion, 2)):
        est = est_cls(rank=rank, max_iter=50, random_state=0).fit(obs)
        assert isinstance(est.cores_[0], np.ndarray)
        assert isinstance(est.reconstruct(), np.ndarray)
        assert isinstance(td.norm_deviation(est.cores_), (float, np.floating))
    assert tl.get_backend() == "pytorch"  # and we did not change it either


@pytest.mark.parametrize("factorization, n_cores", [("cp", 5), ("tucker", 5), ("blocktt", 2)])
def test_factorized_linear_layers_are_found(tltorch, factorization, n_cores):
    from tensorly_das.torch import DAS, tensorized_layers

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        tltorch.FactorizedLinear(in_tensorized_features=(4, 4), out_tensorized_features=(2, 4),
                                 factorization=factorization, rank=3),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 3),
    )
    layers = tensorized_layers(net)
    assert [name for name, _ in layers] == ["0.weight"]
    assert len(layers[0][1]) >= n_cores - 3
    opt = DAS(net, lr=0.05, total_steps=5)
    x, y = torch.randn(16, 16), torch.randint(0, 3, (16,))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert opt.diagnostics()[0]["name"] == "0.weight"


def test_factorized_tensor_is_one_layer(tltorch):
    from tensorly_das.torch import tensorized_param_groups

    holder = torch.nn.Module()
    holder.tt = tltorch.FactorizedTensor.new((4, 5, 6), rank=(1, 2, 2, 1), factorization="tt")
    holder.dense = torch.nn.Linear(3, 3)
    groups = tensorized_param_groups(holder)
    assert groups[0]["tensorized"] and len(groups[0]["params"]) == 3
    assert not groups[1]["tensorized"] and len(groups[1]["params"]) == 2


def test_factorized_conv_is_found_and_trains(tltorch):
    from tensorly_das.torch import DAS

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        tltorch.FactorizedConv(3, 8, 3, order=2, factorization="tucker", rank=4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 2),
    )
    opt = DAS(net, lr=0.05, total_steps=4, alpha=1.0, deviation="relative")
    assert [g["name"] for g in opt.param_groups if g["tensorized"]] == ["0.weight"]
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 0, 1])
    before = [p.detach().clone() for p in opt.param_groups[0]["params"]]
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, opt.param_groups[0]["params"]))
