"""Training health: a discriminator that wins outright, and losses that stop being numbers.

Both are what a reproduction can lose days to: the non-convergence where D separates real from fake
perfectly (its loss near zero) while G's loss keeps climbing, and NaN/inf losses after which every
further step is wasted. The loop feeds every tick's averaged losses to :class:`HealthMonitor`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Gan3dError


class TrainingDiverged(Gan3dError):
    """A loss became NaN or infinite; training stopped (the last good snapshot is kept)."""


@dataclass
class HealthConfig:
    """``window`` ticks in a row with D's loss below ``d_loss_max`` while G's loss either rises by at least
    ``g_rise`` (last minus first of the window) or stays at or above ``g_loss_min`` raise the warning.

    The losses are the non-saturating logistic ones (``softplus``); at equilibrium D's is ``log 4 = 1.39``
    and G's ``log 2 = 0.69``. D below 0.5 means it gives the right side of its decision ~78% probability on
    average; G at 2 means the fakes are scored ~12% real. Healthy runs sit near D 1.0-1.35 / G 0.7-1.2
    (StyleGAN2 and EG3D on the synthetic world); a D that separates real from fake outright sits near
    0.2 (CNeRF's synth64 stage 1 before its learning-rate fix: D 0.18, G 2.7, every fake scored fake).
    A single bad tick early in training (StyleGAN2: D 0.64, G 2.1 in its first tick) is not a warning.
    """

    window: int = 5
    d_loss_max: float = 0.5
    g_rise: float = 0.5
    g_loss_min: float = 2.0


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

    ``pairs`` names the ``(D loss, G loss)`` keys to watch, one pair per discriminator (CNeRF has a global
    and a semantic one); a trainer declares them as ``Trainer.health_pairs``. Without pairs the monitor
    watches the first logged keys containing ``Loss/D`` and ``Loss/G`` (EG3D-style names ``Loss/D/loss``
    and ``Loss/G/loss`` match). ``d_key`` / ``g_key`` name one pair directly.
    """

    def __init__(self, config: HealthConfig | None = None, d_key: str | None = None, g_key: str | None = None,
                 pairs: Sequence[tuple[str, str]] = ()):
        self.config = config or HealthConfig()
        self.pairs = [tuple(p) for p in pairs] or ([(d_key, g_key)] if d_key or g_key else [])
        self.history: dict[int, deque[tuple[float, float]]] = {}
        self.warned: dict[int, bool] = {}

    def _keys(self, losses: dict[str, float]) -> list[tuple[str | None, str | None]]:
        def first(part: str) -> str | None:
            return next((k for k in sorted(losses) if part in k and "reg" not in k.lower()), None)

        if not self.pairs:
            return [(first("Loss/D"), first("Loss/G"))]
        return [(d or first("Loss/D"), g or first("Loss/G")) for d, g in self.pairs]

    def update(self, losses: dict[str, float]) -> str | None:
        """Add one tick's losses; returns the warning text when the pattern (newly) holds for a
        discriminator (several warnings joined by "; "), else None."""
        cfg = self.config
        warnings = []
        for i, (d_key, g_key) in enumerate(self._keys(losses)):
            if d_key not in losses or g_key not in losses:
                continue  # e.g. a discriminator whose phase did not run in this tick
            hist = self.history.setdefault(i, deque(maxlen=cfg.window))
            hist.append((float(losses[d_key]), float(losses[g_key])))
            if len(hist) < cfg.window:
                continue
            d = [h[0] for h in hist]
            g = [h[1] for h in hist]
            rising = g[-1] - g[0] >= cfg.g_rise
            # a G that stays beaten counts too: once it saturates its loss stops rising but D keeps winning
            beaten = min(g) >= cfg.g_loss_min
            winning = max(d) < cfg.d_loss_max and (rising or beaten)
            if winning and not self.warned.get(i, False):
                how = (f"rose from {g[0]:.3g} to {g[-1]:.3g}" if rising else
                       f"stayed at or above {cfg.g_loss_min} ({g[0]:.3g} to {g[-1]:.3g})")
                warnings.append(
                    f"the discriminator is winning outright: {d_key} stayed below {cfg.d_loss_max} for "
                    f"{cfg.window} ticks while {g_key} {how}; the generator is no longer learning (check that "
                    f"the generator's output can change at all: its learning rate and initial images; then try "
                    f"a larger R1 weight, augmentation, a lower D learning rate, or more data)")
            self.warned[i] = winning  # a later relapse warns again
        return "; ".join(warnings) or None

    def state_dict(self) -> dict:
        return {"pairs": {str(i): {"history": [list(h) for h in hist], "warned": self.warned.get(i, False)}
                          for i, hist in self.history.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.history.clear()
        self.warned.clear()
        if "history" in state:  # a run saved before several discriminators were watched: one pair
            state = {"pairs": {"0": state}}
        for i, st in state.get("pairs", {}).items():
            self.history[int(i)] = deque((tuple(h) for h in st.get("history", [])), maxlen=self.config.window)
            self.warned[int(i)] = bool(st.get("warned", False))
