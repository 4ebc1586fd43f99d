"""An infinite, seeded, resumable index stream shared out among ``torchrun`` processes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

from ..errors import InputError


class InfiniteSampler(Sampler[int]):
    """Endless dataset indices: epoch ``e`` is a permutation drawn from ``(seed, e)`` (or ``0..size-1`` in
    order when ``shuffle`` is off), and the epochs follow each other into one global stream.

    Rank ``r`` of ``world`` gets stream positions ``r, r + world, r + 2 world, ...``, so the ranks
    partition the stream and together see every index once per epoch. :meth:`state_dict` records the
    global position; :meth:`load_state_dict` continues the same stream, even with another ``world``.

    A ``DataLoader`` draws indices ahead of the batches it hands out (prefetching), so a training
    loop should save ``state_dict(consumed=...)`` with the number of indices this rank has trained on.
    """

    def __init__(self, size: int, rank: int = 0, world: int = 1, seed: int = 0, shuffle: bool = True):
        if int(size) < 1:
            raise InputError(f"the sampler needs a non-empty data set, got size {size}")
        if int(world) < 1 or not 0 <= int(rank) < int(world):
            raise InputError(f"rank must lie in 0..world-1, got rank {rank} of world {world}")
        self.size, self.rank, self.world = int(size), int(rank), int(world)
        self.seed, self.shuffle = int(seed), bool(shuffle)
        self._step = 0  # indices this rank has yielded
        self._start = 0  # global position of this rank's step 0
        self._epoch: int | None = None
        self._order: np.ndarray | None = None

    def _index_at(self, position: int) -> int:
        epoch, offset = divmod(position, self.size)
        if epoch != self._epoch:
            if self.shuffle:
                self._order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
            else:
                self._order = np.arange(self.size)
            self._epoch = epoch
        return int(self._order[offset])

    def __iter__(self) -> Iterator[int]:
        while True:
            position = self._start + self._step * self.world + self.rank
            self._step += 1  # before the yield: a consumer that stops here has taken this index
            yield self._index_at(position)

    def state_dict(self, consumed: int | None = None) -> dict:
        """The stream position after this rank's ``consumed`` indices (default: all it has yielded).

        The position is global: all ranks of a run save the same value when they step in lock-step.
        """
        step = self._step if consumed is None else int(consumed)
        return {"position": self._start + step * self.world, "size": self.size, "seed": self.seed,
                "shuffle": self.shuffle}

    def load_state_dict(self, state: dict) -> None:
        """Continue the stream saved by :meth:`state_dict` (same size, seed and shuffle)."""
        mismatch = [f"{k} {state.get(k)!r} (now {getattr(self, k)!r})" for k in ("size", "seed", "shuffle")
                    if state.get(k) != getattr(self, k)]
        if mismatch:
            raise InputError("cannot resume the sampler: the saved stream had " + ", ".join(mismatch)
                             + "; resume with the same data set and seed")
        self._start, self._step = int(state["position"]), 0
