"""Data-parallel completion on ``torch.distributed`` (gloo on CPU, NCCL on GPUs).

Every rank holds its own shard of the observations and a full copy of the (small) cores.
Each gradient evaluation sums the ranks' partial losses and gradients with one all-reduce,
so every rank applies the identical plain / SAM / DAS update (SAM reduces both of its
gradients; DAS computes its norms from the reduced gradient). Validation errors are reduced
the same way, so early stopping stops every rank at the same pass.

Use it through the estimators' ``distributed=True`` (with an initialized process group and
``backend="pytorch"``), or ``torchrun --nproc_per_node K -m tensorly_das fit ... --distributed``.
"""


def _dist():
    import torch.distributed as dist

    return dist


def is_initialized():
    """True when a ``torch.distributed`` process group is available and initialized."""
    try:
        dist = _dist()
    except ImportError:  # pragma: no cover - torch missing
        return False
    return dist.is_available() and dist.is_initialized()


def rank_and_world():
    """(rank, world size) of this process; (0, 1) without a process group."""
    if not is_initialized():
        return 0, 1
    dist = _dist()
    return dist.get_rank(), dist.get_world_size()


def shard_rows(n, rank, world_size):
    """Rows ``rank, rank + world_size, ...`` of ``n``: the default sharding of one data set."""
    import numpy as np

    return np.arange(rank, n, world_size)


class AllReduce:
    """The collective operations the fit loop needs, on one process group.

    Parameters
    ----------
    device : str or torch.device
        Where the cores live (CUDA for NCCL, CPU for gloo).
    """

    def __init__(self, device):
        if not is_initialized():
            raise RuntimeError(
                "distributed=True needs an initialized torch.distributed process group "
                "(torch.distributed.init_process_group, or launch with torchrun)"
            )
        import torch

        self.dist = _dist()
        self.device = torch.device(device)
        self.rank, self.world_size = rank_and_world()

    def _tensor(self, values, dtype=None):
        import torch

        return torch.tensor(values, device=self.device, dtype=dtype or torch.float64)

    def sum(self, values):
        """Element-wise sum over ranks of a list of floats."""
        t = self._tensor(values)
        self.dist.all_reduce(t)
        return t.tolist()

    def extreme(self, value, minimum):
        """The minimum (or maximum) of a float over ranks."""
        return self.extreme_each([value], minimum)[0]

    def broadcast_object(self, value):
        """Rank 0's ``value`` (a picklable object) on every rank."""
        box = [value]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]

    def check_agreement(self, signature):
        """Raise the same clear error on every rank when ``signature`` differs between ranks."""
        gathered = [None] * self.world_size
        self.dist.all_gather_object(gathered, signature)
        for other_rank, other in enumerate(gathered):
            if other != gathered[0]:
                diffs = [k for k in gathered[0] if gathered[0][k] != other.get(k)]
                raise ValueError(
                    f"ranks disagree on {diffs}: rank 0 has "
                    f"{ {k: gathered[0][k] for k in diffs} }, rank {other_rank} has "
                    f"{ {k: other.get(k) for k in diffs} }"
                )

    def check_errors(self, error, what="unusable data shard(s)"):
        """Raise on every rank when some rank's ``error`` (a message or None) is set.

        Parameters
        ----------
        error : str or None
            This rank's problem, if any.
        what : str
            The stage, first in the message.
        """
        gathered = [None] * self.world_size
        self.dist.all_gather_object(gathered, error)
        problems = [f"rank {r}: {e}" for r, e in enumerate(gathered) if e is not None]
        if problems:
            raise ValueError(f"{what}: " + "; ".join(problems))

    def extreme_each(self, values, minimum):
        """Element-wise minimum (or maximum) over ranks of a list of numbers."""
        t = self._tensor(values)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MIN if minimum else self.dist.ReduceOp.MAX)
        return t.tolist()

    def gather_to_root(self, value):
        """Every rank's ``value`` (picklable), as a list on rank 0; None elsewhere."""
        gathered = [None] * self.world_size if self.rank == 0 else None
        self.dist.gather_object(value, gathered, dst=0)
        return gathered

    def gather_observations(self, indices, values):
        """Every rank's observations (indices, values), in the tensor's order.

        The order does not depend on how the entries were sharded, so a start computed from
        them is the same for any number of processes.

        Parameters
        ----------
        indices : (n, N) int array
            This rank's entries.
        values : (n,) array
            Their values.

        Returns
        -------
        indices, values : arrays
            All ranks' entries.
        """
        import numpy as np

        gathered = [None] * self.world_size
        self.dist.all_gather_object(gathered, (indices, values))
        from .starts import canonical_order

        return canonical_order(np.concatenate([g[0] for g in gathered]),
                               np.concatenate([g[1] for g in gathered]))

    def broadcast_(self, tensors):
        """Copy rank 0's ``tensors`` to every rank, in place."""
        for t in tensors:
            self.dist.broadcast(t, src=0)

    def reduce_loss_and_grads(self, loss, grads, n_local):
        """Global mean loss and gradients from this rank's means over ``n_local`` entries.

        One all-reduce sums ``n_local * (loss, grads)`` and ``n_local`` over the ranks;
        dividing gives the mean over all ranks' entries, identical on every rank.
        """
        import torch

        count = torch.ones(1, dtype=loss.dtype, device=loss.device) * float(n_local)
        flat = torch.cat([loss.reshape(1) * float(n_local)] + [g.reshape(-1) * float(n_local) for g in grads] + [count])
        self.dist.all_reduce(flat)
        flat = flat / flat[-1]
        out, offset = [], 1
        for g in grads:
            out.append(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()
        return flat[0], out

    def reduce_sum(self, value):
        """Sum over ranks of a 0-d tensor (stays on the device)."""
        value = value.clone()
        self.dist.all_reduce(value)
        return value


def join_torchrun(device, timeout=300.0):
    """Join the process group torchrun describes in the environment.

    Parameters
    ----------
    device : str
        ``"cpu"`` (gloo) or ``"cuda..."`` (NCCL, on this process's ``LOCAL_RANK`` GPU).
    timeout : float
        Seconds a collective waits for the other processes before it fails (a hung or lost
        process then stops the run with an error instead of a 30-minute wait).

    Returns
    -------
    rank, world_size : int
    device : str
        The device this process uses.
    """
    import os

    import torch

    if "RANK" not in os.environ:
        raise RuntimeError("a distributed run needs a torchrun launch "
                           "(torchrun --nproc_per_node K -m tensorly_das fit ...)")
    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    import datetime

    dist = _dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo",
                                timeout=datetime.timedelta(seconds=float(timeout)))
    return dist.get_rank(), dist.get_world_size(), device


def leave(clean=True):
    """Leave the process group (gloo aborts at exit otherwise).

    Parameters
    ----------
    clean : bool
        Wait for every rank first (after a success). After an error, leave at once: the
        other ranks may be gone.
    """
    if is_initialized():
        dist = _dist()
        if clean:
            dist.barrier()
        try:
            dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - a peer already gone; nothing left to release
            pass
