"""Stage 1 (``method = "cnerf"``): the compositional radiance field at low resolution.

One iteration, as ``train_CNeRF.py``: the global volume discriminator step (fakes rendered without
graph; non-saturating loss, R1 on image and mask, viewpoint smooth-L1 on fakes), the semantic
component discriminator step (on the same fakes; class cross-entropy on reals and fakes, R1), then
the generator step (new samples; both discriminators, viewpoint, eikonal and minimal-surface terms),
then the EMA. On a fresh start the init SDF network is first pre-fitted to a sphere.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

import gan3d
from gan3d.errors import InputError
from gan3d.train import Batch, DataInfo, Draws, OptimizerSpec, Phase, Progress, Trainer
from gan3d.train.parallel import broadcast_parameters

from ..cards import card_for_config
from ..classes import class_names
from ..config import CNeRFConfig
from ..generator import CNeRFGenerator
from . import losses
from .data import real_pair
from .discriminators import ComponentDiscriminator, VolumeDiscriminator
from .init import init_generator, zero_residual_sdf_biases
from .options import Stage1Options
from .sampling import FakeInputs, draw_inputs, render_fakes, sphere_prefit_loss


def coverage_logs(prefix: str, masks: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """Share of pixels whose arg-max class is k, per class: ``masks [B,K,H,W]`` -> ``{prefix/name: [B]}``."""
    labels = masks.detach().argmax(1)
    return {f"{prefix}/{name}": (labels == k).float().mean((1, 2)) for k, name in enumerate(names)}


def region(maps: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Channel ``labels[j]`` of sample j: ``maps [B,K,H,W]``, ``labels [B]`` -> ``[B,1,H,W]``."""
    return maps[torch.arange(maps.shape[0], device=maps.device), labels].unsqueeze(1)


def stage1_config(o: Stage1Options, num_samples: int | None = None, static_viewdirs: bool = False) -> CNeRFConfig:
    """The low-resolution generator's architecture for these options."""
    return CNeRFConfig(size=o.resolution, style_dim=o.style_dim, num_classes=o.num_classes, width=o.width,
                       depth=o.depth, render_resolution=o.resolution, num_samples=num_samples or o.num_samples,
                       static_viewdirs=static_viewdirs, full_pipeline=False)


def export_generator(module: CNeRFGenerator, config: CNeRFConfig, name: str, description: str) -> CNeRFGenerator:
    """A copy of ``module``'s weights in a generator with ``config`` (inference settings) and a card."""
    card = card_for_config(config, name).model_copy(update={"description": description})
    G = CNeRFGenerator(card, config).to(next(module.parameters()).device)
    G.load_state_dict(module.state_dict(), strict=True)
    G.mean_latent_count.zero_()
    G.compute_mean_latents()
    return G.eval().requires_grad_(False)


class Stage1Trainer(Trainer):
    """Networks ``G`` (mapping + renderer, official keys ``style.*``, ``renderer.*``), ``gd``, ``sd``."""

    method = "cnerf"
    ema = "G"
    # both discriminators can win outright on their own (the seed project's stage 1 lost the global one at once)
    health_pairs = (("Loss/D/adv", "Loss/G/adv"), ("Loss/Dsem/adv", "Loss/G/semantic_adv"))

    def __init__(self, options: Stage1Options, data: DataInfo, device="cpu"):
        super().__init__(options, data, device)
        o = options
        self.config = stage1_config(o)
        G = CNeRFGenerator(card_for_config(self.config, "cnerf/training"), self.config)
        init_generator(G)
        if o.zero_sdf_bias:
            zero_residual_sdf_biases(G)
        self.networks = {
            "G": G,
            "gd": VolumeDiscriminator(o.resolution, o.num_classes, o.view_weight > 0, o.d_channel_divisor),
            "sd": ComponentDiscriminator(o.resolution, o.num_classes, o.d_channel_divisor),
        }
        for net in self.networks.values():
            net.to(self.device).requires_grad_(False)
        self.names = class_names(o.num_classes)
        self.sphere_done = not o.sphere_init
        self._copy_ema = False

    # ------------------------------------------------------------------ contract
    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.options
        return {"G": OptimizerSpec(o.g_lr, tuple(o.betas)), "gd": OptimizerSpec(o.d_lr, tuple(o.betas)),
                "sd": OptimizerSpec(o.d_lr, tuple(o.betas))}

    def phases(self) -> list[Phase]:
        return [Phase("Dglobal", "gd"), Phase("Dsemantic", "sd"), Phase("Gmain", "G")]

    def _draw(self, draws: Draws, tag: str, batch: int, jitter: bool = True) -> FakeInputs:
        o = self.options
        return draw_inputs(draws, tag, batch, o.style_dim, o.num_classes, o.mixing, o.resolution, o.azimuth_std,
                           o.elevation_std, o.uniform_cameras, jitter, self.device)

    def prepare(self, real: Batch, draws: Draws, progress: Progress) -> dict:
        """Draws of the whole iteration, in the official order: D fakes, semantic labels, G fakes, G labels."""
        if not self.sphere_done:
            self.sphere_prefit(draws, real.image.shape[0])
        B, K = real.image.shape[0], self.options.num_classes
        if real.mask is None:
            raise InputError("CNeRF needs semantic masks with every image; this batch has none")
        image, mask = real_pair(real.image, real.mask, self.options.resolution, K, self.options.mask_dilation)
        return {
            "real_image": image, "real_mask": mask,
            "d_fake": self._draw(draws, "D", B),
            "d_labels": draws.randint("Dsemantic/label", K, (B,), self.device),
            "g_fake": self._draw(draws, "G", B),
            "g_labels": draws.randint("G/label", K, (B,), self.device),
        }

    def loss(self, phase: Phase, real: Batch, inputs: dict, draws: Draws, progress: Progress):
        return getattr(self, f"_loss_{phase.name}")(inputs)

    def ema_beta(self, progress: Progress) -> float:
        if self._copy_ema:  # the pre-fit just ran: the EMA starts from the fitted generator
            self._copy_ema = False
            return 0.0
        return float(self.options.ema_decay)

    def export(self, module: nn.Module) -> gan3d.Generator:
        o = self.options
        return export_generator(module, stage1_config(o, o.export_samples, static_viewdirs=True), "cnerf/trained",
                                f"CNeRF stage 1 (compositional {o.resolution}x{o.resolution} renderer, "
                                f"{o.num_classes} classes) trained with gan3d")

    def extra_state(self) -> dict:
        return {"sphere_done": bool(self.sphere_done)}

    def load_extra_state(self, state: dict) -> None:
        self.sphere_done = bool(state.get("sphere_done", self.sphere_done))

    def schedule(self, progress: Progress) -> dict[str, float]:
        return {"sigmoid_beta": float(self.networks["G"].renderer.sigmoid_beta)}

    # ------------------------------------------------------------------ pre-fit
    def sphere_prefit(self, draws: Draws, batch: int) -> list[float]:
        """The official sphere pre-fit of the init SDF network (and, with ``sphere_init_mapping``, the
        mapping), with its own Adam at G's settings; afterwards the init network stays frozen (it only ever
        runs without gradient)."""
        o, G = self.options, self.networks["G"]
        params = list(G.renderer.init_network.parameters())
        if o.sphere_init_mapping:
            params += list(G.style.parameters())
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=o.g_lr, betas=tuple(o.betas))
        res, n = o.sphere_init_resolution, o.num_samples
        history = []
        bar = tqdm(range(o.sphere_init_iters), desc="CNeRF sphere pre-fit of the init SDF", leave=False, disable=None)
        for _ in bar:
            inp = draw_inputs(draws, "sphere", batch, o.style_dim, o.num_classes, o.mixing, res, o.azimuth_std,
                              o.elevation_std, o.uniform_cameras, False, self.device)
            u = draws.rand("sphere/stratified", (batch, res * res, n), self.device)
            loss = sphere_prefit_loss(G, inp, res, n, u)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(float(loss.detach()))
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        G.requires_grad_(False)
        # the official pre-fit is not synchronised across GPUs (ranks leave it different); fit everywhere
        # on each rank's own draws, then keep rank 0's so all processes train the same generator
        broadcast_parameters(G)
        self.sphere_done = True
        self._copy_ema = True
        return history

    # ------------------------------------------------------------------ losses
    def _d_fakes(self, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator steps' fakes ``(image [B,3,R,R], mask logits [B,K,R,R])``, rendered once without
        graph and shared by both steps (as officially); kept in ``inputs["d_fake_maps"]``."""
        if "d_fake_maps" not in inputs:
            o = self.options
            with torch.no_grad():
                maps = render_fakes(self.networks["G"], inputs["d_fake"], o.resolution, o.num_samples)
            inputs["d_fake_maps"] = (maps["rgb"], maps["seg"])
        return inputs["d_fake_maps"]

    def _loss_Dglobal(self, inputs: dict):
        o, G, gd = self.options, self.networks["G"], self.networks["gd"]
        fake_in: FakeInputs = inputs["d_fake"]
        fake_img, fake_seg = self._d_fakes(inputs)
        fake_logit, fake_view = gd(fake_img, fake_seg)
        x = inputs["real_image"].detach().requires_grad_(True)
        m = inputs["real_mask"].detach().requires_grad_(True)
        real_logit, _ = gd(x, m)
        gan = losses.d_logistic(real_logit, fake_logit)
        pen_img, pen_seg = losses.r1_penalties(real_logit, [x, m])
        r1 = 0.5 * o.r1_image * pen_img + 0.5 * o.r1_mask * pen_seg
        view = o.view_weight * losses.viewpoint(fake_view, fake_in.viewpoint) if fake_view is not None else gan * 0
        logs = {"Loss/D/adv": gan.detach(), "Loss/D/r1": r1.detach(), "Loss/D/view": view.detach(),
                "Loss/scores/real": real_logit.detach(), "Loss/scores/fake": fake_logit.detach(),
                "Loss/signs/real": real_logit.detach().sign(), "Loss/signs/fake": fake_logit.detach().sign()}
        logs.update(coverage_logs("Coverage/fake", fake_seg, self.names))
        logs.update(coverage_logs("Coverage/real", inputs["real_mask"], self.names))
        return gan + r1 + view, logs

    def _loss_Dsemantic(self, inputs: dict):
        o, sd = self.options, self.networks["sd"]
        labels = inputs["d_labels"]
        fake_img, fake_seg = self._d_fakes(inputs)
        x = inputs["real_image"].detach().requires_grad_(True)
        c_r = region(inputs["real_mask"], labels).detach().requires_grad_(True)
        real_logit, real_cls = sd(x, c_r)
        fake_logit, fake_cls = sd(fake_img, region(fake_seg, labels))
        cls = losses.classify(real_cls, labels) + losses.classify(fake_cls, labels)
        gan = losses.d_logistic(real_logit, fake_logit)
        pen_img, pen_seg = losses.r1_penalties(real_logit, [x, c_r])
        r1 = 0.5 * o.r1_image * pen_img + 0.5 * o.r1_mask * pen_seg
        logs = {"Loss/Dsem/classify": cls.detach(), "Loss/Dsem/adv": gan.detach(), "Loss/Dsem/r1": r1.detach(),
                "Loss/Dsem/scores/real": real_logit.detach(), "Loss/Dsem/scores/fake": fake_logit.detach(),
                "Loss/Dsem/accuracy/real": (real_cls.argmax(1) == labels).float(),
                "Loss/Dsem/accuracy/fake": (fake_cls.argmax(1) == labels).float()}
        return o.semantic_weight * (cls + gan + r1), logs

    def _loss_Gmain(self, inputs: dict):
        o = self.options
        G, gd, sd = self.networks["G"], self.networks["gd"], self.networks["sd"]
        fake_in: FakeInputs = inputs["g_fake"]
        want_sdf = o.min_surf_weight > 0
        want_eik = o.eikonal_weight > 0
        maps = render_fakes(G, fake_in, o.resolution, o.num_samples, sdf=want_sdf, eikonal=want_eik)
        img, seg = maps["rgb"], maps["seg"]
        logit, view = gd(img, seg)
        zero = img.sum() * 0
        gan = losses.g_nonsaturating(logit)
        view_l = o.view_weight * losses.viewpoint(view, fake_in.viewpoint) if view is not None else zero
        eik = o.eikonal_weight * losses.eikonal(maps["eikonal"]) if want_eik else zero
        surf = o.min_surf_weight * losses.minimal_surface(maps["sdf"], o.min_surf_beta) if want_sdf else zero
        labels = inputs["g_labels"]
        s_logit, s_cls = sd(img, region(seg, labels))
        cls = losses.classify(s_cls, labels)
        s_gan = losses.g_nonsaturating(s_logit)
        total = gan + view_l + eik + surf + o.semantic_weight * (cls + s_gan)
        logs = {"Loss/G/adv": gan.detach(), "Loss/G/view": view_l.detach(), "Loss/G/eikonal": eik.detach(),
                "Loss/G/minimal_surface": surf.detach(), "Loss/G/classify": cls.detach(),
                "Loss/G/semantic_adv": s_gan.detach()}
        return total, logs
