"""The body of one training iteration, shared by the loop and the parity tests.

Everything here follows StyleGAN2/EG3D's ``training_loop.py``: one Adam per network with the
lazy-regularisation ratio, each phase as ``zero_grad(set_to_none) -> requires_grad(True) ->
(loss * gain).backward() -> requires_grad(False) -> all-reduce / world -> nan_to_num -> step``, and
the EMA as ``p_ema = p.lerp(p_ema, beta)`` with buffers copied.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from .method import Batch, OptimizerSpec, Phase, Progress, Trainer
from .draws import Draws


def make_optimizer(module: nn.Module, spec: OptimizerSpec) -> torch.optim.Adam:
    """Adam over ``module.parameters()`` (registration order) with the lazy-regularisation ratio."""
    lr, betas = spec.lr, tuple(spec.betas)
    if spec.reg_interval:
        mb = spec.reg_interval / (spec.reg_interval + 1)
        lr, betas = lr * mb, tuple(b ** mb for b in betas)
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, eps=spec.eps, weight_decay=spec.weight_decay)


def run_phase(trainer: Trainer, phase: Phase, optimizer: torch.optim.Optimizer, real: Batch, inputs: dict,
              draws: Draws, progress: Progress) -> dict[str, torch.Tensor]:
    """One phase: its loss times ``phase.interval`` back-propagated, gradients averaged across
    processes (when ``torch.distributed`` is initialised), sanitised, and one optimizer step.

    Returns the phase's log tensors (detached).
    """
    return run_phase_rounds(trainer, phase, optimizer, [(real, inputs)], draws, progress)


def run_phase_rounds(trainer: Trainer, phase: Phase, optimizer: torch.optim.Optimizer,
                     rounds: list[tuple[Batch, dict]], draws: Draws, progress: Progress) -> dict[str, torch.Tensor]:
    """:func:`run_phase` with gradient accumulation: each ``(real, inputs)`` round (a ``batch_gpu`` slice
    of this process's batch) adds the gradient of its loss times ``phase.interval``, as StyleGAN2/EG3D's
    loop does, before the one all-reduce and step. Log tensors are averaged over the rounds.
    """
    module = trainer.networks[phase.network]
    optimizer.zero_grad(set_to_none=True)
    module.requires_grad_(True)
    out: dict[str, torch.Tensor] = {}
    for real, inputs in rounds:
        loss, logs = trainer.loss(phase, real, inputs, draws, progress)
        (loss * phase.interval).backward()
        logs = {k: v.detach() for k, v in logs.items()}
        logs.setdefault(f"Loss/{phase.name}", loss.detach())
        for k, v in logs.items():  # one round: the tensors as they are; several: their mean over rounds
            out[k] = v if len(rounds) == 1 else out.get(k, 0) + v.float().mean() / len(rounds)
    module.requires_grad_(False)
    params = [p for p in module.parameters() if p.grad is not None]
    if params:
        flat = torch.cat([p.grad.flatten() for p in params])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(flat)
            flat /= dist.get_world_size()
        torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
        for p, g in zip(params, flat.split([p.numel() for p in params])):
            p.grad = g.reshape(p.shape)
    optimizer.step()
    trainer.after_phase(phase, progress)
    return out


@torch.no_grad()
def ema_update(ema: nn.Module, module: nn.Module, beta: float) -> None:
    """``p_ema = p.lerp(p_ema, beta)`` for every parameter; buffers copied from ``module``."""
    for p_ema, p in zip(ema.parameters(), module.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(ema.buffers(), module.buffers()):
        b_ema.copy_(b.detach())
