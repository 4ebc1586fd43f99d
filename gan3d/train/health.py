"""Training health: a discriminator that wins outright, and losses that stop being numbers.

Both are what a reproduction can lose days to: the non-convergence where D separates real from fake
perfectly (its loss near zero) while G's loss keeps climbing, and NaN/inf losses after which every
further step is wasted. The loop feeds every tick's averaged losses to :class:`HealthMonitor`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ..errors import Gan3dError


class TrainingDiverged(Gan3dError):
    """A loss became NaN or infinite; training stopped (the last good snapshot is kept)."""


@dataclass
class HealthConfig:
    """``window`` ticks in a row with D's loss below ``d_loss_max`` and G's loss rising by at least
    ``g_rise`` (last minus first of the window) raise the warning."""

    window: int = 5
    d_loss_max: float = 0.05
    g_rise: float = 0.5


def check_finite(logs: dict[str, float], where: str, last_snapshot: str | None) -> None:
    """Raise :class:`TrainingDiverged` naming the non-finite losses."""
    bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
    if bad:
        kept = (f"the last good snapshot is {last_snapshot} (resume from it with `gan3d train --resume RUN_DIR`, "
                f"e.g. with a lower learning rate or a stronger R1)") if last_snapshot else "no snapshot was written yet"
        raise TrainingDiverged(f"training stopped at {where}: {', '.join(f'{k}={v}' for k, v in sorted(bad.items()))}; "
                               f"{kept}")


class HealthMonitor:
    """Watches the tick records for a discriminator that wins outright.

    ``d_key`` / ``g_key`` name the losses to watch (default: the first logged keys containing
    ``Loss/D`` and ``Loss/G``; EG3D-style names ``Loss/D/loss`` and ``Loss/G/loss`` match).
    """

    def __init__(self, config: HealthConfig | None = None, d_key: str | None = None, g_key: str | None = None):
        self.config = config or HealthConfig()
        self.d_key, self.g_key = d_key, g_key
        self.history: deque[tuple[float, float]] = deque(maxlen=self.config.window)
        self.warned = False

    def _keys(self, losses: dict[str, float]) -> tuple[str | None, str | None]:
        def first(part: str) -> str | None:
            return next((k for k in sorted(losses) if part in k and "reg" not in k.lower()), None)

        return self.d_key or first("Loss/D"), self.g_key or first("Loss/G")

    def update(self, losses: dict[str, float]) -> str | None:
        """Add one tick's losses; returns the warning text when the pattern (newly) holds, else None."""
        d_key, g_key = self._keys(losses)
        if d_key is None or g_key is None:
            return None
        self.history.append((float(losses[d_key]), float(losses[g_key])))
        cfg = self.config
        if len(self.history) < cfg.window:
            return None
        d = [h[0] for h in self.history]
        g = [h[1] for h in self.history]
        winning = max(d) < cfg.d_loss_max and g[-1] - g[0] >= cfg.g_rise
        if winning and not self.warned:
            self.warned = True
            return (f"the discriminator is winning outright: {d_key} stayed below {cfg.d_loss_max} for {cfg.window} "
                    f"ticks while {g_key} rose from {g[0]:.3g} to {g[-1]:.3g}; the generator is no longer learning "
                    f"(try a larger R1 weight, augmentation, a lower D learning rate, or more data)")
        if not winning:
            self.warned = False  # a later relapse warns again
        return None

    def state_dict(self) -> dict:
        return {"history": [list(h) for h in self.history], "warned": self.warned}

    def load_state_dict(self, state: dict) -> None:
        self.history.clear()
        self.history.extend(tuple(h) for h in state.get("history", []))
        self.warned = bool(state.get("warned", False))
