"""A trainer for the test suite: the toy sphere with a learned, camera-conditioned mapping against a
tiny conv discriminator, with R1 as a lazy phase. Small enough that the core loop (phases, lazy
regularisation, EMA, snapshots, resume, DDP, metrics) is exercised in seconds on a CPU.

The generator is :class:`TrainableSphere`: an MLP maps ``z`` (and the conditioning camera's EG3D label)
to the sphere's colour, radius and light, rendered by the core's volume renderer at the data's
resolution. It has no BatchNorm and the discriminator no minibatch statistics, so 2 processes with
half the batch each reproduce 1 process with the whole batch.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

import gan3d
from gan3d.render import VolumeRenderer
from gan3d.train import Batch, DataInfo, OptimizerSpec, Phase, Progress, Trainer, TrainerEntry

from .plugin import CARD, ToySphere


class TrainableSphere(ToySphere):
    """The toy sphere whose ``w`` (colour logits, radius, light) comes from a learned MLP of ``z`` and,
    when ``conditioned``, of the conditioning camera's 25-number label."""

    def __init__(self, card: gan3d.ModelCard, hidden: int = 16, conditioned: bool = True, num_samples: int = 12):
        super().__init__(card)
        self.hidden, self.conditioned, self.num_samples = int(hidden), bool(conditioned), int(num_samples)
        self.renderer = VolumeRenderer(ray_start=2.2, ray_end=3.2, num_samples=self.num_samples)
        self.w_avg = torch.zeros(6)  # truncation pulls towards a zero w (the untrained toy's average)
        c_dim = 25 if self.conditioned else 0
        self.net = nn.Sequential(nn.Linear(card.latent.dim + c_dim, self.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(self.hidden, 6))

    def map_labels(self, z: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        """``z [B,D]`` and conditioning labels ``[B,25]`` -> ``w [B,1,6]``."""
        x = z if not self.conditioned else torch.cat([z, label.to(z)], 1)
        return self.net(x)[:, None]

    def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
        self.check_truncation(truncation_psi, truncation_cutoff, num_ws=1)
        z = self.check_latents(z)
        cam = (camera if camera is not None else self.default_camera()).expand(z.shape[0]).to(self.device)
        w = self.map_labels(z, cam.to_eg3d_label())
        return self.w_avg.lerp(w, truncation_psi) if truncation_cutoff != 0 else w

    def export_config(self) -> dict:
        return {"kind": "trained", "hidden": self.hidden, "conditioned": self.conditioned,
                "num_samples": self.num_samples}


def load_trained(form, device) -> TrainableSphere:
    """A :class:`TrainableSphere` from its safe form (``form.config["kind"] == "trained"``)."""
    cfg = {k: v for k, v in form.config.items() if k != "kind"}
    gen = TrainableSphere(form.card(), **cfg)
    gen.load_state_dict(form.state_dict(), strict=True)
    return gen.to(device)


class ToyD(nn.Module):
    """Two stride-2 convs and a linear head; conditioning by projection onto an embedding of the label."""

    def __init__(self, resolution: int, channels: int = 8, conditioned: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, 2, 1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, 2, 1)
        feat = 2 * channels * math.ceil(resolution / 4) ** 2
        self.fc = nn.Linear(feat, 16)
        self.out = nn.Linear(16, 1)
        self.embed = nn.Linear(25, 16) if conditioned else None

    def forward(self, img: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        """``img [B,3,H,W]`` in ``[-1,1]`` -> logits ``[B,1]``."""
        h = F.leaky_relu(self.conv1(img), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2)
        h = F.leaky_relu(self.fc(h.flatten(1)), 0.2)
        out = self.out(h)
        if self.embed is not None:
            out = out + (self.embed(label) * h).sum(1, keepdim=True) / 4.0
        return out


class ToyTrainOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    z_dim: int = Field(8, ge=1)
    hidden: int = Field(16, ge=1)
    d_channels: int = Field(8, ge=1)
    num_samples: int = Field(12, ge=2, description="volume samples per ray")
    lr_g: float = Field(0.0025, gt=0)
    lr_d: float = Field(0.0025, gt=0)
    r1_gamma: float = Field(1.0, ge=0)
    r1_interval: int = Field(4, ge=1)
    ema_kimg: float = Field(0.01, gt=0)
    conditioned: bool = Field(True, description="condition G and D on camera labels (needs labelled data)")
    nan_after: int | None = Field(None, ge=0, description="test facility: G's loss turns NaN from this iteration")
    init_from: str | None = Field(None, description="start G from this trained toy generator (a snapshot's "
                                                    "generator folder, or run:NAME)")


class ToyTrainer(Trainer):
    method = "toy"

    def __init__(self, options: ToyTrainOptions, data: DataInfo, device="cpu"):
        super().__init__(options, data, device)
        card = CARD.model_copy(update={"name": "toy/trained", "resolution": data.resolution,
                                       "latent": gan3d.LatentSpec(parts={"z": options.z_dim}),
                                       "description": "the toy sphere trained by gan3d train"})
        G = TrainableSphere(card, options.hidden, options.conditioned, options.num_samples).to(self.device)
        G.set_deterministic(True)  # training draws nothing outside the Draws (no ray jitter)
        if options.init_from is not None:
            G.load_state_dict(gan3d.load(options.init_from).state_dict())
        D = ToyD(data.resolution, options.d_channels, options.conditioned).to(self.device)
        self.networks = {"G": G, "D": D}
        self.labels = None if data.labels is None else data.labels.to(self.device)

    def optimizers(self):
        o = self.options
        return {"G": OptimizerSpec(lr=o.lr_g), "D": OptimizerSpec(lr=o.lr_d, reg_interval=o.r1_interval)}

    def phases(self):
        return [Phase("Gmain", "G"), Phase("Dmain", "D"), Phase("Dreg", "D", self.options.r1_interval)]

    def _gen_inputs(self, phase: str, B: int, draws) -> dict:
        z = draws.randn(f"{phase}/z", (B, self.options.z_dim), self.device)
        if self.labels is not None:
            c = self.labels[draws.randint(f"{phase}/c", len(self.labels), (B,), self.device)]
        else:  # no labels: cameras on a yaw arc
            yaw = draws.rand(f"{phase}/yaw", (B,)) * 0.6 - 0.3
            c = CARD.camera.orbit(yaw.tolist(), [0.0] * B).to_eg3d_label().to(self.device)
        return {"z": z, "c": c}

    def prepare(self, real: Batch, draws, progress: Progress) -> dict:
        B = real.image.shape[0]
        return {p: self._gen_inputs(p, B, draws) for p in ("Gmain", "Dmain")}

    def _generate(self, z, c) -> torch.Tensor:
        G = self.networks["G"]
        w = G.map_labels(z, c)
        return G.synthesize(w, gan3d.Camera.from_eg3d_label(c).to(self.device)).image

    def _d(self, img, c):
        return self.networks["D"](img, c if self.options.conditioned else None)

    def loss(self, phase: Phase, real: Batch, inputs: dict, draws, progress: Progress):
        o = self.options
        if phase.name == "Gmain":
            x = inputs["Gmain"]
            logits = self._d(self._generate(x["z"], x["c"]), x["c"])
            loss = F.softplus(-logits).mean()
            if o.nan_after is not None and progress.batch_idx >= o.nan_after:
                loss = loss * float("nan")
            return loss, {"Loss/Gmain/scores_fake": logits}
        real_c = real.label if real.label is not None else inputs["Dmain"]["c"]
        if phase.name == "Dmain":
            x = inputs["Dmain"]
            with torch.no_grad():
                fake = self._generate(x["z"], x["c"])
            fake_logits, real_logits = self._d(fake, x["c"]), self._d(real.image, real_c)
            loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
            return loss, {"Loss/Dmain/scores_real": real_logits}
        img = real.image.detach().requires_grad_(True)
        logits = self._d(img, real_c)
        (grad,) = torch.autograd.grad(logits.sum(), img, create_graph=True)
        penalty = grad.square().sum([1, 2, 3])
        return (penalty * (o.r1_gamma / 2)).mean(), {"Loss/Dreg/r1_penalty": penalty}

    def schedule(self, progress: Progress) -> dict[str, float]:
        return {"ema_beta": self.ema_beta(progress)}

    def ema_beta(self, progress: Progress) -> float:
        return 0.5 ** (progress.batch_size / (self.options.ema_kimg * 1000))

    def export(self, module):
        G = copy.deepcopy(module).eval().requires_grad_(False)
        return G.set_deterministic(False)


def check_data(options: ToyTrainOptions, data: DataInfo) -> list[str]:
    if options.conditioned and not data.has_labels:
        return ["the toy trainer is camera-conditioned and the data has no camera labels (dataset.json); "
                "add labels or set options.conditioned = false"]
    return []


ENTRY = TrainerEntry(method="toy", options=ToyTrainOptions, build=ToyTrainer, check_data=check_data,
                     presets={"tiny": {"batch": 4, "kimg": 0.032, "hidden": 16},
                              "wide": {"hidden": 32, "d_channels": 16}},
                     description="the test suite's toy sphere GAN")
