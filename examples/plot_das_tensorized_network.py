"""
Training a tensorized network with DAS
======================================

A small MLP whose hidden layers are Tensor-Train matrices (:class:`tensorly_das.torch.TTLinear`)
is trained on scikit-learn's digits with plain SGD, SAM and DAS. ``DAS`` finds the TT layers
itself; :func:`tensorly_das.torch.layer_diagnostics` reports each layer's norm deviation Q and
the covariance of Theorem A.2, which we log every step.

DAS runs in the paper's form with ``u`` over every parameter's gradient
(``gradient_norm="global"``, SAM's) at ``alpha = rho / (1 - momentum)``. One DAS step at
``alpha = rho`` changes the core norms relative to each other as one SAM step does, to first
order (Theorem 2 and eq. 9); SGD's momentum then sums SAM's perturbed gradients over about
``1 / (1 - momentum)`` steps, while DAS's rescaling bypasses the momentum buffer. The results
page ("DAS against SAM: the norm dynamics") measures both, on this network and on
tensorly-torch's factorized layers.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tensorly_das.torch import DAS, SAM, TTLinear, layer_diagnostics

X, y = load_digits(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
Xtr, Xte = torch.tensor(Xtr, dtype=torch.float32), torch.tensor(Xte, dtype=torch.float32)
ytr, yte = torch.tensor(ytr), torch.tensor(yte)


def network():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        TTLinear((8, 8), (8, 8), rank=4), torch.nn.ReLU(), TTLinear((8, 8), (4, 8), rank=4),
        torch.nn.ReLU(), torch.nn.Linear(32, 10),
    )


epochs, batch = 15, 64
steps = epochs * ((len(ytr) + batch - 1) // batch)
loss_fn = torch.nn.CrossEntropyLoss()
curves = {}
for name in ("SGD", "SAM", "DAS"):
    net = network()
    if name == "SGD":
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    elif name == "SAM":
        opt = SAM(net.parameters(), lr=0.05, momentum=0.9, rho=0.05)
    else:
        opt = DAS(net, lr=0.05, momentum=0.9, alpha=0.05 / (1 - 0.9), gradient_norm="global",
                  alpha_schedule="constant")
    q_curve = []
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(ytr), generator=gen)
        for start in range(0, len(ytr), batch):
            idx = perm[start : start + batch]
            opt.zero_grad()
            loss_fn(net(Xtr[idx]), ytr[idx]).backward()
            q_curve.append(np.mean([float(d["norm_deviation"]) for d in layer_diagnostics(net)]))
            if name == "SAM":
                opt.step(lambda: (opt.zero_grad(), loss_fn(net(Xtr[idx]), ytr[idx]).backward()))
            else:
                opt.step()
    with torch.no_grad():
        accuracy = (net(Xte).argmax(1) == yte).float().mean().item()
    print(f"{name}: test accuracy {accuracy:.3f}, final mean Q {q_curve[-1]:.3g}")
    curves[name] = q_curve

##############################################################################
# Norm deviation of the TT layers during training.
fig, ax = plt.subplots(figsize=(5, 3))
for name, q in curves.items():
    ax.plot(q, label=name)
ax.set_xlabel("step")
ax.set_ylabel("mean Q of the TT layers")
ax.legend()
fig.tight_layout()
plt.show()
