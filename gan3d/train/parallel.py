"""What makes ``torchrun`` training equal single-process training with the same global batch.

Every process holds the same networks and the same seeded :class:`ShardedDraws`; a draw of shape
``(n, ...)`` (``n`` = this process's batch) is drawn for the whole global batch, ``(world * n, ...)``,
and process ``r`` keeps rows ``r*n .. (r+1)*n - 1``. All processes advance one generator identically,
so their draws together are exactly the draws one process with the global batch makes. The real
images come from :class:`gan3d.data.InfiniteSampler`, whose ranks partition one index stream, so the
processes' batches together are the single process's batch. Gradients are averaged in
:func:`gan3d.train.step.run_phase`; losses that are means over the batch then give the same update.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .draws import Draws


class ShardedDraws(Draws):
    """Seeded draws, each process receiving its slice of the global batch's draws.

    The first dimension of a draw is the per-process batch; a scalar draw (shape ``()``) is one value
    shared by all processes (e.g. a per-batch style-mixing cutoff).
    """

    def __init__(self, seed: int = 0, rank: int = 0, world: int = 1):
        super().__init__(seed)
        self.rank, self.world = int(rank), int(world)

    def _slice(self, kind: str, shape, device, *args) -> torch.Tensor:
        shape = tuple(shape)
        if self.world == 1 or len(shape) == 0:
            return getattr(super(), kind)(*args, shape, device=device)
        n = shape[0]
        full = getattr(super(), kind)(*args, (self.world * n, *shape[1:]), device=None)
        return full[self.rank * n:(self.rank + 1) * n].to(device or "cpu")

    def rand(self, name, shape, device=None):
        return self._slice("rand", shape, device, name)

    def randn(self, name, shape, device=None):
        return self._slice("randn", shape, device, name)

    def randint(self, name, high, shape, device=None):
        return self._slice("randint", shape, device, name, high)


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, else ``(0, 1)``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def training_device(device: str) -> torch.device:
    """The device this process trains on: ``auto`` is CUDA when present; under torchrun with CUDA,
    each process takes the GPU of its ``LOCAL_RANK``."""
    from ..eval.harness import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda" and world()[1] > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return dev


def broadcast_object(obj, src: int = 0):
    """``obj`` of process ``src`` in every process (itself without a process group)."""
    if world()[1] == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def mean_across(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over processes (a copy; itself without a process group)."""
    if world()[1] == 1:
        return values
    # NCCL reduces CUDA tensors only; gloo reduces CPU tensors
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    out = values.detach().to(device, copy=True)
    dist.all_reduce(out)
    return (out / world()[1]).to(values.device)


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers in every process (they start equal; this makes sure)."""
    if world()[1] == 1:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)
