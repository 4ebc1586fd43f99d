"""One source for every random draw a training step makes (``shared/design.md``, *Replayable randomness*).

A trainer never calls ``torch.rand*`` itself: it asks its :class:`Draws` by name,
``draws.rand("Gmain/swap_u", (B, 1))``. In training that is a seeded CPU generator whose state is saved
with each snapshot, so a resumed run continues the very same stream; in a parity test it is a
:class:`ReplayDraws` that hands back, by name and in call order, the values a fixture recorded from
the official code. Values are always drawn on the CPU and then moved, so a run's numbers do not
depend on the device it runs on.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from ..errors import InputError


class Draws:
    """Seeded draws. ``name`` says what a value is for; seeded draws ignore it (replay uses it)."""

    def __init__(self, seed: int = 0):
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(int(seed))

    def rand(self, name: str, shape, device=None) -> torch.Tensor:
        """Uniform in ``[0, 1)``, float32."""
        return torch.rand(tuple(shape), generator=self.generator).to(device or "cpu")

    def randn(self, name: str, shape, device=None) -> torch.Tensor:
        """Standard normal, float32."""
        return torch.randn(tuple(shape), generator=self.generator).to(device or "cpu")

    def randint(self, name: str, high: int, shape, device=None) -> torch.Tensor:
        """Integers in ``[0, high)``, int64."""
        return torch.randint(int(high), tuple(shape), generator=self.generator).to(device or "cpu")

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class ReplayDraws(Draws):
    """Recorded values by name: ``values[name]`` is one tensor, or a list used in call order.

    A name that was not recorded is an error unless ``fallback`` is given (then it draws from there);
    a recorded value whose shape differs from the request is an error, so a trainer that draws in
    another shape than the official code is caught by its parity test.
    """

    def __init__(self, values: dict, fallback: Draws | None = None):
        super().__init__(0)
        self.values = {k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in values.items()}
        self.used: dict[str, int] = defaultdict(int)
        self.fallback = fallback

    def _take(self, kind: str, name: str, shape, device, *args) -> torch.Tensor:
        if name not in self.values:
            if self.fallback is None:
                raise InputError(f"replayed draw {name!r} was not recorded (recorded: {sorted(self.values)})")
            return getattr(self.fallback, kind)(name, *args, shape, device=device)
        i = self.used[name]
        seq = self.values[name]
        if i >= len(seq):
            raise InputError(f"replayed draw {name!r} asked for {i + 1} times, recorded {len(seq)}")
        self.used[name] += 1
        value = torch.as_tensor(seq[i])
        if tuple(value.shape) != tuple(shape):
            raise InputError(f"replayed draw {name!r}: asked for shape {tuple(shape)}, recorded {tuple(value.shape)}")
        return value.to(device or "cpu")

    def rand(self, name, shape, device=None):
        return self._take("rand", name, shape, device)

    def randn(self, name, shape, device=None):
        return self._take("randn", name, shape, device)

    def randint(self, name, high, shape, device=None):
        return self._take("randint", name, shape, device, high)
