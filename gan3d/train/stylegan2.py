"""The StyleGAN2 trainer (rosinality/stylegan2-pytorch ``train.py``): the 2D teacher LiftedGAN distils.

One iteration, in rosinality's order (``shared/reference/liftedgan-training.md`` section 1.4):

* ``Dmain``: non-saturating loss ``softplus(D(fake)) + softplus(-D(real))`` on style-mixed fakes;
* ``Dreg`` every ``d_reg_every`` (16) iterations: R1, ``r1/2 * mean_b sum |dD(real)/dreal|^2``, its own step;
* ``Gmain``: ``softplus(-D(G(z)))`` on new style-mixed latents;
* ``Greg`` every ``g_reg_every`` (4) iterations: path-length regularisation on ``batch // path_batch_shrink``
  samples, ``path_regularize * mean (pl - a)^2`` with ``pl = sqrt(mean_layers sum_D J^2)``, ``J = d(sum x y)/dW+``,
  ``y ~ N(0,I)/sqrt(HW)`` and the running mean ``a <- a + 0.01 (mean pl - a)`` (not detached inside the
  penalty, as the original);
* EMA of G's parameters with ``beta = 0.5 ** (32 / 10 000)`` (a 10 kimg half-life at rosinality's fixed 32
  images per step, whatever the batch).

The core loop multiplies the regularisers by their interval and gives their optimizers the lazy ratio
(Adam lr ``0.002 * k/(k+1)``, betas ``(0, 0.99 ** (k/(k+1)))``). Style mixing (probability 0.9, one
crossover layer per batch drawn uniformly in ``1 .. n_latent-1``), the latents, the per-layer noise maps
and the path-length noise all come from the run's :class:`~gan3d.train.Draws`.

Not implemented: rosinality's optional adaptive augmentation (``--augment``, off by default; unknown
whether LiftedGAN's teachers used it). Mirroring (rosinality's random flip) is the training config's
``xflip``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ..nn.stylegan2 import SLIM_CHANNELS, SLIM_D_CHANNELS, Discriminator, StyleGAN2Generator, rosinality_channels
from ..stylegan2 import StyleGAN2Config, StyleGAN2Model, make_card
from .draws import Draws
from .method import Batch, DataInfo, OptimizerSpec, Phase, Progress, Trainer, TrainerEntry
from .parallel import mean_across


class StyleGAN2Options(BaseModel):
    """rosinality ``train.py``'s options (its defaults), plus the widths (LiftedGAN's slim tables by default)."""

    model_config = ConfigDict(extra="forbid")

    style_dim: int = Field(512, ge=1, description="z and w size (rosinality's --latent, fixed at 512 there)")
    n_mlp: int = Field(8, ge=1, description="mapping network layers")
    lr_mlp: float = Field(0.01, gt=0, description="the mapping network's learning-rate multiplier")
    channels: Literal["slim", "rosinality"] = Field(
        "slim", description="width tables: LiftedGAN's slim teacher (G 512..16, D 512..32 at 256 px) or "
                            "rosinality's defaults with channel_multiplier")
    channel_multiplier: int = Field(2, ge=1, description="rosinality's --channel_multiplier (channels='rosinality')")
    channel_divisor: int = Field(1, ge=1, description="divide every width by this (small models for tests/synth64)")
    lr: float = Field(0.002, gt=0)
    r1: float = Field(10.0, ge=0, description="R1 weight gamma (the penalty is gamma/2 * |grad|^2)")
    d_reg_every: int = Field(16, ge=1)
    path_regularize: float = Field(2.0, ge=0)
    path_batch_shrink: int = Field(2, ge=1)
    g_reg_every: int = Field(4, ge=1)
    mixing: float = Field(0.9, ge=0, le=1, description="style-mixing probability")
    ema_kimg: float = Field(10.0, gt=0, description="EMA half-life in thousands of images")
    ema_ref_batch: int | None = Field(32, ge=1, description="images per step the half-life assumes (rosinality: "
                                                            "a fixed 32); None uses the real batch")
    dataset: str | None = Field(None, description="the data set's name on the exported model card")
    latent_avg_samples: int = Field(4096, ge=1, description="mapped codes averaged for the truncation centre")

    def tables(self) -> tuple[dict[int, int], dict[int, int]]:
        """Generator and discriminator width tables."""
        if self.channels == "slim":
            g, d = dict(SLIM_CHANNELS), dict(SLIM_D_CHANNELS)
        else:
            g = d = rosinality_channels(self.channel_multiplier)
        return ({r: max(1, c // self.channel_divisor) for r, c in g.items()},
                {r: max(1, c // self.channel_divisor) for r, c in d.items()})


def check_data(options: StyleGAN2Options, data: DataInfo) -> list[str]:
    """The data must be square, a power of two between 4 and the width table's largest resolution."""
    res = data.resolution
    g, _ = options.tables()
    if res < 4 or res & (res - 1):
        return [f"StyleGAN2 needs a power-of-two resolution >= 4; the data is {res} px"]
    if res > max(g):
        return [f"the {options.channels!r} width table stops at {max(g)} px; the data is {res} px "
                f"(use channels = 'rosinality' for up to 1024 px)"]
    return []


class StyleGAN2Trainer(Trainer):
    """rosinality's StyleGAN2 training as gan3d phases (see the module docstring)."""

    method = "stylegan2"
    ema = "G"

    def __init__(self, options: StyleGAN2Options, data: DataInfo, device: torch.device | str = "cpu"):
        super().__init__(options, data, device)
        problems = check_data(options, data)
        if problems:
            from ..errors import InputError

            raise InputError("; ".join(problems))
        g_ch, d_ch = options.tables()
        self.config = StyleGAN2Config(size=data.resolution, style_dim=options.style_dim, n_mlp=options.n_mlp,
                                      lr_mlp=options.lr_mlp, channels=g_ch)
        G = self.config.build().to(self.device)
        D = Discriminator(data.resolution, d_ch).to(self.device)
        self.networks = {"G": G, "D": D}
        self.mean_path_length = torch.zeros((), device=self.device)
        self._path_means: list[torch.Tensor] = []

    # ------------------------------------------------------------------ contract
    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.options
        return {"G": OptimizerSpec(lr=o.lr, betas=(0.0, 0.99), reg_interval=o.g_reg_every),
                "D": OptimizerSpec(lr=o.lr, betas=(0.0, 0.99), reg_interval=o.d_reg_every)}

    def phases(self) -> list[Phase]:
        o = self.options
        phases = [Phase("Dmain", "D")]
        if o.r1 > 0:
            phases.append(Phase("Dreg", "D", o.d_reg_every))
        phases.append(Phase("Gmain", "G"))
        if o.path_regularize > 0:
            phases.append(Phase("Greg", "G", o.g_reg_every))
        return phases

    def _latents(self, phase: str, batch: int, draws: Draws) -> dict:
        """Style-mixing latents of one phase: ``z [B,k,D]`` (k = 2 when mixing), the crossover layer (or
        None) and the per-layer noise maps."""
        G: StyleGAN2Generator = self.networks["G"]
        o = self.options
        mix = bool(draws.rand(f"{phase}/mixing", ()) < o.mixing) if o.mixing > 0 else False
        z = draws.randn(f"{phase}/z", (batch, 2 if mix else 1, o.style_dim), self.device)
        cross = int(draws.randint(f"{phase}/crossover", G.n_latent - 1, ())) + 1 if mix else None
        noise = [draws.randn(f"{phase}/noise{i}", s, self.device) for i, s in enumerate(G.noise_shapes(batch))]
        return {"z": z, "crossover": cross, "noise": noise}

    def prepare(self, real: Batch, draws: Draws, progress: Progress) -> dict:
        o = self.options
        B = real.image.shape[0]
        out = {"Dmain": self._latents("Dmain", B, draws), "Gmain": self._latents("Gmain", B, draws)}
        if o.path_regularize > 0 and progress.batch_idx % o.g_reg_every == 0:
            n = max(1, B // o.path_batch_shrink)
            out["Greg"] = self._latents("Greg", n, draws)
            res = self.data.resolution
            out["Greg"]["path_noise"] = draws.randn("Greg/path_noise", (n, 3, res, res), self.device)
        return out

    def generate(self, x: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[B,3,H,W]`` and the per-layer styles ``[B,n_latent,D]`` for one phase's latents."""
        G: StyleGAN2Generator = self.networks["G"]
        ws = [G.mapping(x["z"][:, i]) for i in range(x["z"].shape[1])]
        styles = G.mix(ws, x["crossover"])
        img, _ = G.synthesis(styles, x["noise"])
        return img, styles

    def loss(self, phase: Phase, real: Batch, inputs: dict, draws: Draws, progress: Progress):
        D = self.networks["D"]
        o = self.options
        if phase.name == "Dmain":
            with torch.no_grad():  # G takes no step here; its graph is not needed
                fake, _ = self.generate(inputs["Dmain"])
            fake_pred, real_pred = D(fake), D(real.image)
            loss = F.softplus(fake_pred).mean() + F.softplus(-real_pred).mean()
            return loss, {"Loss/D/loss": loss.detach(), "Loss/scores/real": real_pred.detach(),
                          "Loss/scores/fake": fake_pred.detach()}
        if phase.name == "Dreg":
            penalty = r1_penalty(D, real.image)
            return o.r1 / 2 * penalty, {"Loss/r1": penalty.detach()}
        if phase.name == "Gmain":
            fake, _ = self.generate(inputs["Gmain"])
            loss = F.softplus(-D(fake)).mean()
            return loss, {"Loss/G/loss": loss.detach()}
        if phase.name == "Greg":
            x = inputs["Greg"]
            img, styles = self.generate(x)
            penalty, path_mean, lengths = path_length_penalty(img, styles, x["path_noise"], self.mean_path_length)
            self._path_means.append(path_mean.detach())
            return o.path_regularize * penalty, {"Loss/path_length": lengths.detach(), "Loss/pl_penalty": penalty.detach()}
        raise ValueError(f"unknown phase {phase.name!r}")

    def after_phase(self, phase: Phase, progress: Progress) -> None:
        if phase.name == "Greg" and self._path_means:
            mean = torch.stack(self._path_means).mean()
            self.mean_path_length = mean_across(mean.reshape(1)).reshape(())
            self._path_means.clear()

    def schedule(self, progress: Progress) -> dict[str, float]:
        return {"ema_beta": self.ema_beta(progress), "mean_path_length": float(self.mean_path_length)}

    def ema_beta(self, progress: Progress) -> float:
        o = self.options
        return 0.5 ** ((o.ema_ref_batch or progress.batch_size) / (o.ema_kimg * 1000))

    def extra_state(self) -> dict:
        # rosinality loses this on resume (restarts at 0); gan3d keeps it so a resumed run continues exactly
        return {"mean_path_length": self.mean_path_length.detach().cpu()}

    def load_extra_state(self, state: dict) -> None:
        if "mean_path_length" in state:
            self.mean_path_length = torch.as_tensor(state["mean_path_length"]).to(self.device).reshape(())

    def export(self, module: StyleGAN2Generator) -> StyleGAN2Model:
        """The EMA generator as a ``stylegan2/trained<res>`` model with its truncation centre."""
        o = self.options
        dataset = o.dataset or getattr(self.data, "name", None) or "unknown"
        card = make_card(f"stylegan2/trained{self.data.resolution}", dataset, self.config,
                         "A StyleGAN2 trained by gan3d train (rosinality's recipe).")
        model = StyleGAN2Model(card, self.config).to(next(module.parameters()).device)
        model.g_ema.load_state_dict(module.state_dict())
        with torch.random.fork_rng(devices=[]):
            model.compute_latent_avg(o.latent_avg_samples)
        return model.eval().requires_grad_(False)


def r1_penalty(D: torch.nn.Module, real: torch.Tensor) -> torch.Tensor:
    """``mean_b sum_{c,h,w} (dsum D(real) / d real)^2`` with a graph for the second derivative."""
    x = real.detach().requires_grad_(True)
    pred = D(x)
    (grad,) = torch.autograd.grad(pred.sum(), x, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def path_length_penalty(img: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor, mean_path_length: torch.Tensor,
                        decay: float = 0.01) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2's path-length penalty ``(penalty, updated running mean, per-sample lengths [B])``.

    ``img [B,3,H,W]`` generated from ``styles [B,n_latent,D]``; ``noise [B,3,H,W] ~ N(0,I)`` is scaled by
    ``1/sqrt(HW)`` here. ``pl_b = sqrt(mean_layers sum_D J^2)``; the running mean is updated with ``decay``
    and enters the penalty without detaching, as the original does.
    """
    y = noise / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * y).sum(), styles, create_graph=True)
    lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    path_mean = mean_path_length + decay * (lengths.mean() - mean_path_length)
    return (lengths - path_mean).pow(2).mean(), path_mean, lengths


PRESETS = {
    # rosinality train.py at 256 px with LiftedGAN's slim widths (the authors' teachers: 300k iterations, batch
    # unrecorded; rosinality's default is 16 per GPU)
    "ffhq256": {"batch": 16, "kimg": 4800, "dataset": "FFHQ"},
    "afhqcat256": {"batch": 16, "kimg": 4800, "dataset": "AFHQ cats"},
    # the synthetic head world at 64 px on a CPU: widths / 8 (G 64,64,32,16,8; D 64,64,64,32,16), short run
    "synth64": {"batch": 8, "kimg": 40, "channel_divisor": 8, "style_dim": 128, "n_mlp": 4, "dataset": "synthetic heads"},
}

ENTRY = TrainerEntry(method="stylegan2", options=StyleGAN2Options, build=StyleGAN2Trainer, presets=PRESETS,
                     check_data=check_data,
                     description="2D StyleGAN2 (rosinality's recipe): the teacher LiftedGAN is distilled from")
