"""LiftedGAN's distillation from a frozen StyleGAN2 (``LiftedGAN.train_step`` of seasonSH/LiftedGAN).

One phase, ``Lmain``, trains netD, netT, netSC and netSD (one Adam, lr 1e-4, betas (0.9, 0.999), coupled L2
5e-4) on targets the frozen teacher draws: no image data is used (the run's data set only serves metrics).
Per iteration (``shared/reference/liftedgan-training.md`` section 2.3):

1. ``z ~ N(0,I)`` -> teacher mapping -> ``w_t = psi w + (1-psi) w_mu`` -> target image (stored noise,
   clamped to [-1,1]); all without gradient.
2. ``estimate(w_t)``: light/view, neutral style, canonical image, depth, transformation map, albedo.
3. Reconstruction: render at the estimated light and view, and again with depth and albedo mirrored;
   ``L_rec = L1_m + lam_perc P_m + lam_flip (L1_m + lam_perc P_m)(flipped)`` under both renders' coverage.
4. Perturbation: lights shuffled by two independent permutations (ambient/diffuse, direction), views
   drawn with yaw U(+-45), pitch U(+-15) degrees; ``w' = netSC(w_t, l', v')``, re-estimated ``(l~, v~) =
   netSD(w')``, ``perturbed = render(l~, v~)``; ``L_perturb_im = (L1 + lam_perc P)(perturbed, G(w'))`` (target
   without gradient), ``L_param`` on light and view rotation, ``L_ID`` between the canonical image's and the
   perturbed render's embeddings for |yaw| < 25, ``L_reg`` on w', ``L_rank`` the albedo nuclear norm.
5. Pass 2 (when lam_perturb_im > 0): ``(L1 + lam_perc P)(render(l', v') [no grad], G(netSC(w_t, l', v')))``
   trains netSC through the frozen teacher. The official code back-propagates it separately into the same
   gradients before one step; here it is added to the phase's loss, which gives the same gradients.

The rasteriser's copy of the depth passes ContourGradientClip. Random draws (z, the two permutations, the
angles) come from the run's :class:`~gan3d.train.Draws`.

Not official, off by default (``style_init_iters``; the synth64 preset turns it on): before the first step,
netSC is pre-fitted to return its input style for the lights and views training feeds it, so the canonical
image starts as the target's own face rather than one mean face (:meth:`LiftedGANTrainer.style_prefit`).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn
from tqdm import tqdm

import gan3d
from gan3d.errors import Gan3dError, InputError
from gan3d.stylegan2 import StyleGAN2Model, load_teacher
from gan3d.train import Batch, DataInfo, Draws, OptimizerSpec, Phase, Progress, Trainer
from gan3d.train.parallel import broadcast_parameters

from ..cards import CAMERA, CITATION, POSE_RANGE
from ..model import LiftedGAN, LiftedGANConfig
from .backbones import RANDOM_NOTE, face_embedding, perceptual_loss
from .losses import (albedo_rank_loss, contour_clip, identity_loss, image_loss, latent_regulariser,
                     symmetric_loss)
from .options import LiftedGANTrainOptions

NETS = ("netD", "netT", "netSD", "netSC")


class LiftedNets(nn.Module):
    """The four trained networks (official key names), shared with the trainer's :class:`LiftedGAN`."""

    def __init__(self, model: LiftedGAN):
        super().__init__()
        for n in NETS:
            setattr(self, n, getattr(model, n))


def model_config(options: LiftedGANTrainOptions, teacher: StyleGAN2Model) -> LiftedGANConfig:
    """The LiftedGAN architecture for ``teacher`` (its size, style width and channel table) and the options."""
    t = teacher.config
    return LiftedGANConfig(image_size=t.size, style_dim=t.style_dim, n_mlp=t.n_mlp, lr_mlp=t.lr_mlp,
                           channels=dict(t.channels), **options.architecture())


def resolve_teacher(spec: str, device: str = "cpu") -> StyleGAN2Model:
    """The frozen teacher named by ``options.teacher``: a StyleGAN2 snapshot folder or stylegan2-pytorch .pt
    (:func:`gan3d.stylegan2.load_teacher`), or a registered model name such as ``stylegan2/synth64`` (a
    teacher a plugin ships, loaded through :func:`gan3d.load` and its sha256-checked weights)."""
    from pathlib import Path

    from gan3d.registry import list_models

    if not Path(spec).expanduser().exists() and spec.count("/") == 1 and not Path(spec).suffix:
        if spec in list_models():
            model = gan3d.load(spec, device)
            if not isinstance(model, StyleGAN2Model):
                raise InputError(f"the model {spec} is a {model.card.method} model, not a StyleGAN2; the teacher "
                                 f"must be a 2D StyleGAN2 (`gan3d models 'stylegan2/*'` lists the registered ones)")
            return model
        if spec.startswith("stylegan2/"):
            known = ", ".join(list_models("stylegan2/*")) or "none"
            raise InputError(f"teacher {spec!r} is neither a file nor a registered model (registered StyleGAN2 "
                             f"models: {known}); install the plugin that ships it, or give a snapshot folder")
    return load_teacher(spec, device)


def teacher_problems(options: LiftedGANTrainOptions, data: DataInfo | None) -> list[str]:
    """Why the configured teacher cannot be used (empty when it can), found before any training work."""
    if not options.teacher:
        return ["options.teacher is not set: LiftedGAN is distilled from a frozen StyleGAN2; name its snapshot "
                "folder (train one with method = 'stylegan2'), a stylegan2-pytorch .pt or a registered "
                "stylegan2/... model"]
    try:
        teacher = resolve_teacher(options.teacher)
    except Gan3dError as e:
        return [f"options.teacher: {str(e).splitlines()[0]}"]
    cfg, problems = teacher.config, []
    want_res = options.resolution if options.resolution is not None else (data.resolution if data else None)
    if want_res is not None and cfg.size != want_res:
        problems.append(f"the teacher {options.teacher} generates {cfg.size} px but "
                        f"{'options.resolution' if options.resolution is not None else 'the data'} is {want_res} px; "
                        f"use a teacher trained at {want_res} px")
    if options.style_dim is not None and cfg.style_dim != options.style_dim:
        problems.append(f"the teacher {options.teacher} has latent size {cfg.style_dim}, options.style_dim says "
                        f"{options.style_dim}")
    if cfg.size < 16 or cfg.size & (cfg.size - 1):
        problems.append(f"the teacher is {cfg.size} px; LiftedGAN needs a power of two of at least 16 (256 officially)")
    if 2 * options.blur_size + 1 > cfg.size:
        problems.append(f"blur_size {options.blur_size} is too large for {cfg.size}-px maps")
    return problems


def check_data(options: LiftedGANTrainOptions, data: DataInfo) -> list[str]:
    return teacher_problems(options, data)


class LiftedGANTrainer(Trainer):
    """See the module docstring. ``networks["G"]`` holds the four trained networks (no EMA, as the official)."""

    method = "liftedgan"
    ema = None

    def __init__(self, options: LiftedGANTrainOptions, data: DataInfo, device: torch.device | str = "cpu"):
        super().__init__(options, data, device)
        problems = teacher_problems(options, data)
        if problems:
            raise InputError("LiftedGAN training cannot start: " + "; ".join(problems))
        teacher = resolve_teacher(options.teacher, "cpu")
        self.teacher_card = teacher.card
        self.config = model_config(options, teacher)
        self.model = LiftedGAN(self._card(), self.config)
        self.model.generator.load_state_dict(teacher.g_ema.state_dict())
        self.model.generator.eval().requires_grad_(False)
        self.model.to(self.device)
        self.w_mu, self.w_sigma_inv = self._w_statistics(options.w_stats_samples)
        self.model.w_mu.copy_(self.w_mu)
        self.lam = options.weights()
        pretrained = options.backbones == "pretrained"
        self.backbone_notes: dict[str, str] = {}
        self.perceptual = None
        if self.lam["lam_perc"] > 0:
            self.perceptual, self.backbone_notes["perceptual"] = perceptual_loss(
                pretrained, options.vgg_weights, options.n_scale, tuple(options.vgg_indices), options.perc_type)
            self.perceptual.to(self.device)
        self.face = None
        if self.lam["lam_identity_perturb"] > 0:
            self.face, self.backbone_notes["identity"] = face_embedding(options.identity_net, pretrained,
                                                                        options.identity_weights)
            self.face.to(self.device)
        self.networks = {"G": LiftedNets(self.model)}
        self.style_init_done = options.style_init_iters == 0

    # ------------------------------------------------------------------ set-up
    def _card(self) -> gan3d.ModelCard:
        o = self.options
        weights = ", ".join(f"{k}={v:g}" for k, v in o.weights().items())
        ablated = ", ".join(o.ablations()) or "none (full model)"
        return gan3d.ModelCard(
            name=f"liftedgan/trained{self.config.image_size}", method="liftedgan", dataset=self.teacher_card.dataset,
            resolution=self.config.image_size, latent=gan3d.LatentSpec(parts={"z": self.config.style_dim}),
            camera=CAMERA, pose_range=POSE_RANGE, license="MIT (code); weights follow the teacher's training data",
            citation=CITATION,
            description=(f"LiftedGAN distilled by gan3d train from the StyleGAN2 {self.teacher_card.name} "
                         f"({o.teacher}). Ablations: {ablated}. Loss weights: {weights}. Identity network: "
                         f"{o.identity_net if self.options.weights()['lam_identity_perturb'] > 0 else 'none'}; "
                         f"loss backbones: {self._backbones_note()}."))

    def _backbones_note(self) -> str:
        """"random (seed 0, ...)", or each pretrained backbone's file hash once they are built."""
        notes = getattr(self, "backbone_notes", None)
        if self.options.backbones == "random" or not notes:
            return RANDOM_NOTE if self.options.backbones == "random" else self.options.backbones
        return "; ".join(f"{k}: {v}" for k, v in notes.items())

    @torch.no_grad()
    def _w_statistics(self, n: int) -> tuple[torch.Tensor, float]:
        """``w_mu [1,D]`` and ``w_sigma_inv = 0.5 / mean_std^2`` (unbiased std per dimension) of ``n`` mapped codes
        from a fixed seed (the official seeds its CPU generator before drawing them)."""
        g = torch.Generator(device="cpu").manual_seed(0)
        D = self.config.style_dim
        ws = []
        for start in range(0, n, 10_000):
            z = torch.randn(min(10_000, n - start), D, generator=g).to(self.device)
            ws.append(self.model.generator.mapping(z).double())
        w = torch.cat(ws)
        return w.mean(0, keepdim=True).float(), float(0.5 / w.std(0).mean().pow(2))

    # ------------------------------------------------------------------ contract
    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.options
        return {"G": OptimizerSpec(lr=o.learning_rate, betas=tuple(o.betas), weight_decay=o.weight_decay)}

    def phases(self) -> list[Phase]:
        return [Phase("Lmain", "G")]

    def prepare(self, real: Batch, draws, progress: Progress) -> dict:
        if not self.style_init_done:
            self.style_prefit(draws)
        return self._draw(draws, "Lmain", real.image.shape[0])

    def _draw(self, draws: Draws, tag: str, batch: int) -> dict:
        """One iteration's draws: codes ``z [B,D]``, two batch permutations, angles ``[B,3]`` in degrees
        (pitch U(+-pitch_range), yaw U(+-yaw_range), roll 0)."""
        o = self.options
        z = draws.randn(f"{tag}/z", (batch, self.config.style_dim), self.device)
        # uniform random permutations of the batch (argsort of uniform draws)
        perm_ab = draws.rand(f"{tag}/perm_light_ab", (batch,)).argsort().to(self.device)
        perm_dir = draws.rand(f"{tag}/perm_light_dir", (batch,)).argsort().to(self.device)
        u = draws.rand(f"{tag}/angles", (batch, 3), self.device)
        lo = torch.tensor([-o.pitch_range, -o.yaw_range, 0.0], device=self.device)
        angles = u * (-2 * lo) + lo
        return {"z": z, "perm_ab": perm_ab, "perm_dir": perm_dir, "angles": angles}

    def style_prefit(self, draws: Draws) -> list[float]:
        """Fit netSC to the identity on styles, ``w_sigma_inv * mean((M(w_t, l, v) - w_t)^2)``, for
        ``style_init_iters`` steps of its own Adam: half of each batch at the neutral light and view that
        ``estimate`` uses, half at the shuffled lights and random views of the perturbation. Returns the losses."""
        o, m = self.options, self.model
        opt = torch.optim.Adam(m.netSC.parameters(), lr=o.style_init_lr, betas=tuple(o.betas))
        B, history = o.style_init_batch, []
        trainable = [p.requires_grad for p in m.netSC.parameters()]
        m.netSC.requires_grad_(True)
        bar = tqdm(range(o.style_init_iters), desc="LiftedGAN netSC pre-fit to the identity", leave=False,
                   disable=None)
        for _ in bar:
            inputs = self._draw(draws, "style_init", B)
            with torch.no_grad():
                styles, _ = self.targets(inputs["z"], image=False)
                light = m.netSD(styles)[1]
                neutral = torch.cat((light[:, :2], torch.zeros_like(light[:, 2:])), 1)
                light_p, view_p = self.perturbation(light, inputs)
                half = (torch.arange(B, device=self.device) < B // 2)[:, None]
                light_in = torch.where(half, neutral, light_p)
                view_in = torch.where(half, torch.zeros_like(view_p), view_p)
            loss = (m.netSC(styles, light_in, view_in) - styles).pow(2).mean() * self.w_sigma_inv
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(float(loss.detach()))
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        for p, flag in zip(m.netSC.parameters(), trainable):
            p.requires_grad_(flag)
        broadcast_parameters(m.netSC)  # every process trains from rank 0's fit
        self.style_init_done = True
        return history

    def extra_state(self) -> dict:
        return {"style_init_done": bool(self.style_init_done)}

    def load_extra_state(self, state: dict) -> None:
        self.style_init_done = bool(state.get("style_init_done", self.style_init_done))

    def targets(self, z: torch.Tensor, image: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Truncated teacher styles ``[B,D]`` and target images ``[B,3,S,S]`` in [-1,1] (no gradient; the image
        is None when not ``image``)."""
        G = self.model.generator
        with torch.no_grad():
            w = G.mapping(z)
            w = self.options.truncation * w + (1 - self.options.truncation) * self.w_mu
            return w, (G.synthesis(w)[0].clamp(-1, 1) if image else None)

    def _render(self, est, light, view, clip: bool):
        depth = contour_clip(est.canon_depth) if clip and self.options.clip_render_grad else None
        return self.model.render(est, view=view, light=light, mesh_depth=depth)

    def perturbation(self, light: torch.Tensor, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """From the estimated light ``[B,4]``: the sampled light ``[B,4]`` (two shuffles) and view ``[B,6]``
        (the drawn angles), both detached."""
        angles = inputs["angles"]
        light_p = torch.cat((light[inputs["perm_ab"], :2], light[inputs["perm_dir"], 2:]), 1)
        tx = torch.sin(angles[:, 1:2] / 180 * math.pi) * 0.2
        view_p = torch.cat((angles / self.config.xyz_rotation_range, tx, angles.new_zeros(len(angles), 2)), 1)
        return light_p.detach(), view_p.detach()

    def loss(self, phase: Phase, real: Batch, inputs: dict, draws, progress: Progress):
        lam, o = self.lam, self.options
        m = self.model
        styles, target = self.targets(inputs["z"])
        est = m.estimate(styles)
        recon = self._render(est, est.light, est.view, clip=True)
        flipped = dataclasses.replace(est, canon_depth=est.canon_depth.flip(2), canon_albedo=est.canon_albedo.flip(3))
        recon_flip = self._render(flipped, est.light, est.view, clip=True)
        mask = recon.mask * recon_flip.mask  # coverage of both renders (no gradient: a depth comparison)
        logs: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=self.device)
        if lam["lam_rec"] > 0:
            l_rec = symmetric_loss(recon.image_raw, recon_flip.image_raw, target, mask, self.perceptual,
                                   lam["lam_perc"], lam["lam_flip"])
            total = total + lam["lam_rec"] * l_rec
            logs["Loss/rec"] = l_rec.detach()
        light_p, view_p = self.perturbation(est.light, inputs)
        w_p = m.netSC(styles.detach(), light_p, view_p)
        _, light_t, view_t = m.netSD(w_p)
        perturbed = self._render(est, light_t, view_t, clip=True).image_raw
        if lam["lam_perturb_im"] > 0:
            with torch.no_grad():
                regen = m.generator.synthesis(w_p)[0]
            l_pim = image_loss(perturbed, regen, self.perceptual, lam["lam_perc"])
            total = total + lam["lam_perturb_im"] * l_pim
            logs["Loss/perturb_im"] = l_pim.detach()
        if lam["lam_perturb_param"] > 0:
            l_light = (light_t - light_p).pow(2).mean()
            l_view = (view_t - view_p)[:, :3].pow(2).mean()
            total = total + lam["lam_perturb_param"] * (l_light + l_view)
            logs["Loss/perturb_light"], logs["Loss/perturb_view"] = l_light.detach(), l_view.detach()
        if lam["lam_identity_perturb"] > 0:
            yaw = inputs["angles"][:, 1]
            keep = (yaw > -o.identity_yaw) & (yaw < o.identity_yaw)
            l_id = identity_loss(self.face(est.canon_im_raw), self.face(perturbed), keep)
            if l_id is not None:  # no small yaw in the batch: the official adds no gradient (its log is NaN)
                total = total + lam["lam_identity_perturb"] * l_id
                logs["Loss/identity"] = l_id.detach()
        if lam["lam_reg_style"] > 0:
            l_reg = latent_regulariser(w_p, self.w_mu, self.w_sigma_inv)
            total = total + lam["lam_reg_style"] * l_reg
            logs["Loss/reg_style"] = l_reg.detach()
        if lam["lam_albedo_rank"] > 0:
            l_rank = albedo_rank_loss(est.canon_albedo, est.canon_depth, m.blur, self.config.border_depth,
                                      o.rank_downsample)
            total = total + lam["lam_albedo_rank"] * l_rank
            logs["Loss/albedo_rank"] = l_rank.detach()
        logs["Loss/total"] = total.detach()
        if lam["lam_perturb_im"] > 0:
            total = total + lam["lam_perturb_im"] * self.style_pass(est, styles, light_p, view_p, logs)
        return total, logs

    def style_pass(self, est, styles: torch.Tensor, light_p: torch.Tensor, view_p: torch.Tensor,
                   logs: dict) -> torch.Tensor:
        """Pass 2: the render at the sampled light and view (no gradient) as the target of the teacher's image
        of ``netSC(w_t, l', v')``; only netSC receives its gradient."""
        with torch.no_grad():
            detached = dataclasses.replace(est, **{f.name: getattr(est, f.name).detach()
                                                   for f in dataclasses.fields(est)})
            goal = self.model.render(detached, view=view_p, light=light_p).image_raw
        w_p = self.model.netSC(styles.detach(), light_p, view_p)
        regen = self.model.generator.synthesis(w_p)[0]
        l_g = image_loss(goal, regen, self.perceptual, self.lam["lam_perc"])
        logs["Loss/perturb_G"] = l_g.detach()
        return l_g

    def schedule(self, progress: Progress) -> dict[str, float]:
        return {"w_sigma_inv": self.w_sigma_inv}

    def export(self, module: LiftedNets) -> LiftedGAN:
        """A standalone :class:`LiftedGAN` (teacher + the four networks + w_mu) with this run's card."""
        G = LiftedGAN(self._card(), self.config)
        sd = {f"generator.{k}": v for k, v in self.model.generator.state_dict().items()}
        sd.update({k: v for k, v in module.state_dict().items()})
        sd["w_mu"] = self.w_mu
        G.load_state_dict({k: v.detach().clone() for k, v in sd.items()}, strict=True)
        # random loss backbones are named on the card, not in ``weights_note``: that note marks untrained
        # weights, and every grid, store row and leaderboard would list this trained model as noise
        return G.to(self.device).eval().requires_grad_(False)
