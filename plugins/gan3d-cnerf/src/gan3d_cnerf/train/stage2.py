"""Stage 2 (``method = "cnerf-full"``): the 2D decoder on the frozen stage-1 renderer.

As ``train_Full.py``: the renderer and its mapping come from a stage-1 snapshot's EMA generator and
run without gradient; ``feature_transfer`` and the StyleGAN2 decoder (with its semantic branch) are
trained against a StyleGAN2 discriminator on (image, mask). R1 on image and mask every
``d_reg_interval`` iterations, folded into that iteration's D step (x interval, as officially);
path length on the decoder's per-layer latents as its own G step every ``g_reg_interval``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import gan3d
from gan3d.errors import Gan3dError, InputError
from gan3d.train import Batch, DataInfo, Draws, OptimizerSpec, Phase, Progress, Trainer
from gan3d.train.parallel import mean_across
from gan3d.train.snapshot import GENERATOR
from gan3d.train.stylegan2 import path_length_penalty

from ..cards import card_for_config
from ..checkpoint import load_checkpoint
from ..config import CNeRFConfig
from ..generator import CNeRFGenerator
from . import losses
from .data import real_pair
from .discriminators import DualDiscriminator
from .options import Stage2Options
from .sampling import FakeInputs, draw_inputs, render_fakes
from ..classes import class_names
from .stage1 import coverage_logs, export_generator

FROZEN = ("style.", "renderer.")  # what stage 2 takes from stage 1 and never trains


def load_stage1(path: str | None, device="cpu") -> CNeRFGenerator:
    """The stage-1 EMA generator at ``path`` (a snapshot folder of ``cnerf``, or an official file with
    ``g_ema``); a clear :class:`InputError` when there is none."""
    if not path:
        raise InputError("stage 2 (cnerf-full) trains the decoder on a stage-1 renderer: set options.stage1 to a "
                         "`gan3d train` snapshot folder of method 'cnerf' (or the official *_vol_renderer.pt)")
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"the stage-1 snapshot {str(p)!r} does not exist (options.stage1: give a snapshot folder "
                         f"of a `gan3d train` run of method 'cnerf')")
    if (p / GENERATOR).is_dir():  # a `gan3d train` snapshot folder: its EMA generator
        p = p / GENERATOR
    try:
        G = load_checkpoint(p, device)
    except Gan3dError as e:
        raise InputError(f"options.stage1 {str(p)!r} is not a CNeRF stage-1 snapshot: {e}") from None
    if G is None:
        raise InputError(f"options.stage1 {str(p)!r} is not a CNeRF snapshot (no config.json of method 'cnerf', "
                         f"no official g_ema)")
    return G


def stage2_config(stage1: CNeRFConfig, o: Stage2Options) -> CNeRFConfig:
    """The full generator's architecture in training: the stage-1 renderer's, with ``o``'s decoder."""
    return stage1.replace(size=o.size, channel_multiplier=o.channel_multiplier, num_samples=o.num_samples,
                          static_viewdirs=False, full_pipeline=True, feature_channels=o.feature_channels,
                          decoder_channel_divisor=o.decoder_channel_divisor)


class Stage2Trainer(Trainer):
    """Networks ``G`` (the full generator; only ``feature_transfer.*`` and ``decoder.*`` train) and ``D``."""

    method = "cnerf-full"
    ema = "G"

    def __init__(self, options: Stage2Options, data: DataInfo, device="cpu", stage1: CNeRFGenerator | None = None):
        super().__init__(options, data, device)
        o = options
        src = stage1 if stage1 is not None else load_stage1(o.stage1)
        c = src.config
        self.config = stage2_config(c, o)
        G = CNeRFGenerator(card_for_config(self.config, "cnerf/training-full"), self.config)
        frozen = {k: v for k, v in src.state_dict().items() if k.startswith(FROZEN)}
        missing, unexpected = G.load_state_dict(frozen, strict=False)
        left = [k for k in missing if k.startswith(FROZEN)]
        if left or unexpected:
            raise InputError(f"the stage-1 snapshot does not fit: missing {left[:3]}, unexpected {unexpected[:3]}")
        self.networks = {"G": G, "D": DualDiscriminator(o.size, c.num_classes, o.channel_multiplier,
                                                        o.d_channel_divisor)}
        for net in self.networks.values():
            net.to(self.device).requires_grad_(False)
        self.names = class_names(c.num_classes)
        self.mean_path_length = torch.zeros((), device=self.device)
        self._path_means: list[torch.Tensor] = []

    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.options
        return {"G": OptimizerSpec(o.lr, tuple(o.betas), reg_interval=o.g_reg_interval),
                "D": OptimizerSpec(o.lr, tuple(o.betas), reg_interval=o.d_reg_interval)}

    def phases(self) -> list[Phase]:
        o = self.options
        phases = [Phase("Dmain", "D"), Phase("Gmain", "G")]
        if o.path_weight > 0:
            phases.append(Phase("Greg", "G", o.g_reg_interval))
        return phases

    def _draw(self, draws: Draws, tag: str, batch: int) -> dict:
        """One phase's inputs: renderer latents/cameras/jitter, the decoder's crossover and noise maps."""
        o, c, G = self.options, self.config, self.networks["G"]
        fake = draw_inputs(draws, tag, batch, c.style_dim, c.num_classes, o.mixing, c.render_resolution,
                           o.azimuth_std, o.elevation_std, o.uniform_cameras, True, self.device)
        n_latent = G.decoder.n_latent
        cross = (int(draws.randint(f"{tag}/crossover", n_latent - 1, (1,))[0]) + 1) if fake.z.shape[0] == 2 else None
        noise = [draws.randn(f"{tag}/noise{i}", s, self.device) for i, s in enumerate(G.decoder.noise_shapes(batch))]
        return {"fake": fake, "crossover": cross, "noise": noise}

    def prepare(self, real: Batch, draws: Draws, progress: Progress) -> dict:
        o = self.options
        if real.mask is None:
            raise InputError("CNeRF needs semantic masks with every image; this batch has none")
        B = real.image.shape[0]
        image, mask = real_pair(real.image, real.mask, o.size, self.config.num_classes, o.mask_dilation)
        out = {"real_image": image, "real_mask": mask, "Dmain": self._draw(draws, "D", B),
               "Gmain": self._draw(draws, "G", B)}
        if o.path_weight > 0 and progress.batch_idx % o.g_reg_interval == 0:
            P = max(1, B // o.path_batch_shrink)
            out["Greg"] = self._draw(draws, "Greg", P)
            out["Greg"]["path_noise"] = draws.randn("Greg/path_noise", (P, 3, o.size, o.size), self.device)
        return out

    def generate(self, x: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(image [B,3,H,W], mask logits [B,K,H,W], decoder latents [B,L,2S], low-res mask logits)``:
        the frozen renderer without graph, then feature transfer and the decoder with graph."""
        G, c = self.networks["G"], self.config
        fake: FakeInputs = x["fake"]
        with torch.no_grad():
            maps = render_fakes(G, fake, c.render_resolution, c.num_samples, features=True)
            w = G.style(fake.z.reshape(-1, c.style_dim)).reshape(fake.z.shape)  # renderer w per z
        dec = [G.decoder.style(w[i]) for i in range(w.shape[0])]              # [B,2S] each
        L = G.decoder.n_latent
        if x["crossover"] is None:
            latent = dec[0].unsqueeze(1).repeat(1, L, 1)
        else:
            k = x["crossover"]
            latent = torch.cat([dec[0].unsqueeze(1).repeat(1, k, 1), dec[1].unsqueeze(1).repeat(1, L - k, 1)], 1)
        image, seg = G.decoder(G.feature_transfer(maps["features"]), latent, seg_in=maps["seg"], noise=x["noise"])
        return image, seg, latent, maps["seg"]

    def loss(self, phase: Phase, real: Batch, inputs: dict, draws: Draws, progress: Progress):
        o, D = self.options, self.networks["D"]
        if phase.name == "Dmain":
            with torch.no_grad():
                fake_img, fake_seg, _, low = self.generate(inputs["Dmain"])
            fake_logit = D(fake_img, fake_seg)
            reg = progress.batch_idx % o.d_reg_interval == 0 and (o.r1_image > 0 or o.r1_mask > 0)
            x = inputs["real_image"].detach().requires_grad_(reg)
            m = inputs["real_mask"].detach().requires_grad_(reg)
            real_logit = D(x, m)
            adv = losses.d_logistic(real_logit, fake_logit)
            loss, logs = adv, {"Loss/D/adv": adv.detach(), "Loss/scores/real": real_logit.detach(),
                               "Loss/scores/fake": fake_logit.detach(),
                               "Loss/signs/real": real_logit.detach().sign(),
                               "Loss/signs/fake": fake_logit.detach().sign()}
            if reg:
                pen_img, pen_seg = losses.r1_penalties(real_logit, [x, m])
                r1 = 0.5 * o.r1_image * pen_img + 0.5 * o.r1_mask * pen_seg
                loss = loss + o.d_reg_interval * r1
                logs["Loss/D/r1"] = r1.detach()
            logs.update(coverage_logs("Coverage/fake", fake_seg, self.names))
            logs.update(coverage_logs("Coverage/fake_lowres", low, self.names))
            logs.update(coverage_logs("Coverage/real", inputs["real_mask"], self.names))
            return loss, logs
        if phase.name == "Gmain":
            image, seg, _, _ = self.generate(inputs["Gmain"])
            adv = losses.g_nonsaturating(D(image, seg))
            return adv, {"Loss/G/adv": adv.detach()}
        if phase.name == "Greg":
            x = inputs["Greg"]
            image, seg, latent, _ = self.generate(x)
            penalty, mean, lengths = path_length_penalty(image, latent, x["path_noise"], self.mean_path_length,
                                                         o.path_decay)
            self._path_means.append(mean.detach())
            # zero-weighted pixels keep both outputs in the graph (as the official step does)
            loss = o.path_weight * penalty + 0 * (image[0, 0, 0, 0] + seg[0, 0, 0, 0])
            return loss, {"Loss/G/path_length": lengths.detach(), "Loss/G/path_penalty": penalty.detach()}
        raise ValueError(f"unknown phase {phase.name!r}")

    def after_phase(self, phase: Phase, progress: Progress) -> None:
        if phase.name == "Greg" and self._path_means:
            mean = torch.stack(self._path_means).mean()
            self.mean_path_length = mean_across(mean.reshape(1)).reshape(())
            self._path_means.clear()

    def ema_beta(self, progress: Progress) -> float:
        return float(self.options.ema_decay)

    def schedule(self, progress: Progress) -> dict[str, float]:
        return {"mean_path_length": float(self.mean_path_length)}

    def extra_state(self) -> dict:
        return {"mean_path_length": self.mean_path_length.detach().cpu()}

    def load_extra_state(self, state: dict) -> None:
        if "mean_path_length" in state:
            self.mean_path_length = torch.as_tensor(state["mean_path_length"]).to(self.device).reshape(())

    def export(self, module: nn.Module) -> gan3d.Generator:
        o, c = self.options, self.config
        return export_generator(module, c.replace(num_samples=o.export_samples, static_viewdirs=True),
                                "cnerf/trained-full",
                                f"CNeRF (stage 2: {c.render_resolution}x{c.render_resolution} renderer, decoder to "
                                f"{c.size}x{c.size}) trained with gan3d")
