"""Gradient accumulation over batch_gpu rounds (StyleGAN2/EG3D: each round's gain-weighted loss adds
its gradient before the one optimizer step)."""

from __future__ import annotations

import torch
from torch import nn

from gan3d.train import Batch, Phase, Progress, Trainer
from gan3d.train.loop import _rounds
from gan3d.train.step import run_phase, run_phase_rounds


class _Linear(Trainer):
    def __init__(self):
        super().__init__(None, None)
        self.networks = {"D": nn.Linear(3, 1, bias=False)}

    def optimizers(self):
        return {}

    def phases(self):
        return []

    def loss(self, phase, real, inputs, draws, progress):
        out = self.networks["D"](real.image.mean((2, 3)))
        return out.square().mean(), {"Loss/out": out}

    def export(self, module):
        return module


def _step(rounds, interval=1):
    torch.manual_seed(0)
    t = _Linear()
    opt = torch.optim.SGD(t.networks["D"].parameters(), lr=1.0)
    before = t.networks["D"].weight.detach().clone()
    logs = run_phase_rounds(t, Phase("D", "D", interval), opt, rounds, None, Progress(0, 0, 4))
    return before - t.networks["D"].weight.detach(), logs  # = lr * gradient


def test_rounds_add_their_gradients_and_average_their_logs():
    real = Batch(torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(1)))
    halves = _rounds(real, 2)
    assert [r.image.shape[0] for r in halves] == [2, 2] and halves[0].label is None
    whole, logs_whole = _step([(real, {})])
    split, logs_split = _step([(r, {}) for r in halves])
    first, _ = _step([(halves[0], {})])
    second, _ = _step([(halves[1], {})])
    torch.testing.assert_close(split, first + second)          # a sum of the rounds' mean-loss gradients
    torch.testing.assert_close(split, 2 * whole)               # = rounds x the whole batch's, as the official loop
    torch.testing.assert_close(logs_split["Loss/out"], logs_whole["Loss/out"].mean())
    gained, _ = _step([(real, {})], interval=4)                # lazy regularisation's gain
    torch.testing.assert_close(gained, 4 * whole)


def test_run_phase_is_one_round():
    real = Batch(torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(2)))
    torch.manual_seed(0)
    t = _Linear()
    opt = torch.optim.SGD(t.networks["D"].parameters(), lr=1.0)
    run_phase(t, Phase("D", "D"), opt, real, {}, None, Progress(0, 0, 4))
    delta, _ = _step([(real, {})])
    torch.manual_seed(0)
    torch.testing.assert_close(_Linear().networks["D"].weight - t.networks["D"].weight, delta)
