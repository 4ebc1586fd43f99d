"""EG3D's training step (NVlabs ``StyleGAN2Loss`` and the per-phase body of ``training_loop.py``).

Phases, in order: ``Gmain`` (non-saturating loss of D on fakes), ``Greg`` (density regulariser, every
``density_reg_every`` iterations), ``Dmain`` (logistic loss on fakes and reals), ``Dreg`` (R1 on both
real images, every ``d_reg_interval`` iterations). The schedules (blur sigma, pose-conditioning swap
probability, neural rendering resolution, EMA decay) are functions of the images shown so far.

Every random number comes from the ``draws`` the core hands over, under these names (``P`` is the
phase): ``gen_z/P``, ``gen_c_index/P`` (the generator's latents and dataset cameras, drawn for every
phase before any runs), ``P/swap_u`` (``[B,1]`` in Gmain/Dmain, one scalar in Greg), ``Greg/coord_u``,
``Greg/perturb_n``, ``P/mix_cutoff``, ``P/mix_u``, ``P/mix_z`` (style mixing), ``P/G/noise/<layer>``,
``P/G/sr_noise/<layer>``, ``P/G/render/stratified_u``, ``P/G/render/importance_u`` (inside G) and
``P/D/c_noise`` (D's camera noise), ``P/augment/<op>/value`` and ``P/augment/<op>/gate`` (ADA, per call of D).

With ``aug = 'ada'`` or ``'fixed'`` D's inputs go through :class:`gan3d.train.augment.AugmentPipe` (the 'bgc'
set); with ADA its probability follows D's signs on reals (:class:`~gan3d.train.augment.AdaptiveAugment`),
is logged as ``Progress/augment`` (and the signs' mean it steered by as ``Progress/augment_real_signs``) and
is saved in the training state.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import gan3d
from gan3d.cards import CameraDefaults, LatentSpec, ModelCard
from gan3d.train import Batch, DataInfo, Draws, OptimizerSpec, Phase, Progress, Trainer
from gan3d.train.augment import BGC, AdaptiveAugment, AugmentPipe

from ..cards import CAR_POSES, CITATION, FACE_POSES, LICENSE
from ..generator import EG3DGenerator
from .discriminator import DualDiscriminator, resize_antialiased
from .options import SR_BY_RESOLUTION, EG3DOptions, check_data

DENSITY_POINTS = 1000  # points per sample of the density regulariser (hard-coded officially)
# Statistics the official loss reports from more than one phase (Gmain and Dmain both report the fake
# scores, Dmain and Dreg the real ones) into one running mean; gan3d logs one value per key and iteration.
SHARED_STATS = ("Loss/scores/", "Loss/signs/")


def log_key(phase: str, official: str) -> str:
    """The key the official statistic ``official`` of ``phase`` is logged under: the shared scores and signs
    carry their phase (``Loss/Dmain/scores/fake``) so no phase overwrites another's; the rest keep their name."""
    if official.startswith(SHARED_STATS):
        return f"Loss/{phase}/{official.removeprefix('Loss/')}"
    return official


def _phase_stats(phase: str, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {log_key(phase, k): v for k, v in stats.items()}


class ScopedDraws:
    """``draws`` with ``prefix`` prepended to every name (e.g. ``Gmain/G/``)."""

    def __init__(self, draws: Draws, prefix: str):
        self.draws, self.prefix = draws, prefix

    def rand(self, name, shape, device=None):
        return self.draws.rand(self.prefix + name, shape, device)

    def randn(self, name, shape, device=None):
        return self.draws.randn(self.prefix + name, shape, device)

    def randint(self, name, high, shape, device=None):
        return self.draws.randint(self.prefix + name, high, shape, device)


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """EG3D's discriminator blur of ``[B,C,H,W]``: taps ``2^-(x/sigma)^2`` for ``|x| <= floor(3 sigma)``,
    normalised, applied separably with zero padding (size kept). Identity when the radius is 0."""
    size = int(np.floor(sigma * 3))
    if size <= 0:
        return image
    f = torch.arange(-size, size + 1, dtype=torch.float32, device=image.device).div(sigma).square().neg().exp2()
    f = (f / f.sum()).to(image.dtype)
    C = image.shape[1]
    x = F.conv2d(image, f.reshape(1, 1, 1, -1).repeat(C, 1, 1, 1), padding=(0, size), groups=C)
    return F.conv2d(x, f.reshape(1, 1, -1, 1).repeat(C, 1, 1, 1), padding=(size, 0), groups=C)


def generator_kwargs(options: EG3DOptions, resolution: int) -> dict:
    """The official ``TriPlaneGenerator`` constructor arguments (train.py's ``G_kwargs``) for ``options``."""
    rk = options.rendering()
    sr = options.sr_module or SR_BY_RESOLUTION[resolution]
    rendering = {
        "image_resolution": resolution, "disparity_space_sampling": False, "clamp_mode": "softplus",
        "superresolution_module": sr if "." in sr else f"training.superresolution.{sr}",
        "c_gen_conditioning_zero": not options.gen_pose_cond,
        "gpc_reg_prob": options.gpc_reg_prob if options.gen_pose_cond else None,
        "c_scale": options.c_scale, "superresolution_noise_mode": options.sr_noise_mode,
        "density_reg": options.density_reg, "density_reg_p_dist": options.density_reg_p_dist,
        "reg_type": options.reg_type, "decoder_lr_mul": options.decoder_lr_mul, "sr_antialias": True,
        "depth_resolution": rk["depth_resolution"], "depth_resolution_importance": rk["depth_resolution_importance"],
        "ray_start": rk["ray_start"], "ray_end": rk["ray_end"], "box_warp": rk["box_warp"],
        "avg_camera_radius": rk["avg_camera_radius"], "avg_camera_pivot": list(rk["avg_camera_pivot"]),
    }
    if rk["white_back"]:
        rendering["white_back"] = True
    sr_kwargs = {"channel_base": options.cbase, "channel_max": options.cmax, "fused_modconv_default": "inference_only"}
    if options.sr_channels is not None:
        sr_kwargs["channels"] = list(options.sr_channels)
    kw = {
        "z_dim": options.z_dim, "w_dim": options.w_dim, "c_dim": 25, "img_resolution": resolution, "img_channels": 3,
        "mapping_kwargs": {"num_layers": options.map_depth}, "channel_base": options.cbase,
        "channel_max": options.cmax, "fused_modconv_default": "inference_only", "rendering_kwargs": rendering,
        "num_fp16_res": options.g_num_fp16_res, "conv_clamp": 256 if options.g_num_fp16_res > 0 else None,
        "sr_num_fp16_res": options.sr_num_fp16_res, "sr_kwargs": sr_kwargs,
    }
    if options.triplane_resolution != 256:
        kw["triplane_resolution"] = options.triplane_resolution
    return kw


def discriminator_kwargs(options: EG3DOptions, resolution: int) -> dict:
    """:class:`DualDiscriminator` arguments (train.py's ``D_kwargs``) for ``options``."""
    return dict(c_dim=25, img_resolution=resolution, img_channels=3, channel_base=options.cbase,
                channel_max=options.cmax, conv_clamp=256 if options.d_num_fp16_res > 0 else None,
                disc_c_noise=options.disc_c_noise, freeze_layers=options.freezed,
                mapping_kwargs={"num_layers": options.d_mapping_layers,
                                "lr_multiplier": options.d_mapping_lr_multiplier},
                mbstd_group_size=options.mbstd_group)


def training_card(name: str, dataset: str, resolution: int, z_dim: int, rendering: dict,
                  labels: torch.Tensor | None = None) -> ModelCard:
    """The card of a model trained by gan3d: camera from the rendering settings, focal from the labels."""
    shapenet_like = bool(rendering.get("white_back", False))
    focal = 1.7074 if shapenet_like else 4.2647
    if labels is not None and len(labels):
        focal = float(labels[:, 16].median())
    camera = CameraDefaults(radius=float(rendering["avg_camera_radius"]),
                            look_at=tuple(float(v) for v in rendering["avg_camera_pivot"]), focal=focal)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "run"
    return ModelCard(name=f"eg3d/{safe}", method="eg3d", dataset=dataset or "unknown", resolution=resolution,
                     latent=LatentSpec(parts={"z": z_dim}), camera=camera,
                     pose_range=CAR_POSES if shapenet_like else FACE_POSES, license=LICENSE, citation=CITATION,
                     description="EG3D trained with gan3d train")


class EG3DTrainer(Trainer):
    """EG3D's training (see the module docstring). ``networks = {"G": EG3DGenerator, "D": DualDiscriminator}``.

    ``trace``: when a dict, intermediate tensors of every phase are recorded in it (parity tests).
    """

    method = "eg3d"
    health_pairs = (("Loss/D/loss", "Loss/G/loss"),)  # the official totals, not the per-phase scores
    ema = "G"

    def __init__(self, options: EG3DOptions, data: DataInfo, device: torch.device | str = "cpu"):
        super().__init__(options, data, device)
        o = options
        problems = check_data(o, data)
        if problems:
            raise gan3d.InputError("; ".join(problems))
        self.resolution = int(o.resolution or data.resolution)
        self.labels = data.labels.to(torch.float32)
        init_kwargs = generator_kwargs(o, self.resolution)
        card = training_card("training", data.name, self.resolution, o.z_dim,
                             init_kwargs["rendering_kwargs"], self.labels)
        G = EG3DGenerator(card, init_kwargs, neural_rendering_resolution=o.neural_rendering_resolution_initial)
        with torch.no_grad():  # the training loop's buffer: per-column std of all labels (numpy's population std)
            G.dataset_label_std.copy_(self.labels.double().std(0, unbiased=False).float())
        D = DualDiscriminator(**discriminator_kwargs(o, self.resolution))
        self.networks = {"G": G.train().requires_grad_(False).to(self.device),
                         "D": D.train().requires_grad_(False).to(self.device)}
        self.trace: dict | None = None
        self._last_nrr = o.neural_rendering_resolution_initial
        # train.py: the 'bgc' pipe for --aug ada (p from 0, steered) or fixed (p = --p)
        self.augment_pipe = (None if o.aug == "noaug" else
                             AugmentPipe(**BGC, p=o.augment_p if o.aug == "fixed" else 0.0).to(self.device))
        self.ada = AdaptiveAugment(self.augment_pipe, o.ada_target, o.ada_kimg) if o.aug == "ada" else None

    @property
    def G(self) -> EG3DGenerator:
        return self.networks["G"]

    @property
    def D(self) -> DualDiscriminator:
        return self.networks["D"]

    # ------------------------------------------------------------------ optimisation
    def optimizers(self) -> dict[str, OptimizerSpec]:
        o = self.options
        g_reg = o.density_reg_every if o.density_reg > 0 else None
        return {"G": OptimizerSpec(lr=o.glr, betas=(0.0, 0.99), eps=1e-8, reg_interval=g_reg),
                "D": OptimizerSpec(lr=o.dlr, betas=(0.0, 0.99), eps=1e-8, reg_interval=o.d_reg_interval)}

    def phases(self) -> list[Phase]:
        o = self.options
        out = [Phase("Gmain", "G", 1)]
        if o.density_reg > 0:
            out.append(Phase("Greg", "G", o.density_reg_every))
        out.append(Phase("Dmain", "D", 1))
        if o.r1_gamma > 0:  # with gamma 0 the official Dreg phase computes nothing
            out.append(Phase("Dreg", "D", o.d_reg_interval))
        return out

    # ------------------------------------------------------------------ schedules
    def schedule(self, progress: Progress) -> dict[str, float]:
        """blur_sigma, swapping_prob (-1 without pose conditioning), neural_rendering_resolution at ``progress``."""
        o, nimg = self.options, progress.cur_nimg
        fade = progress.batch_size * o.blur_fade_kimg / 32
        blur_sigma = max(1 - nimg / (fade * 1e3), 0) * o.blur_init_sigma if fade > 0 else 0.0
        swap = -1.0
        if o.gen_pose_cond:
            a = min(nimg / (o.gpc_reg_fade_kimg * 1e3), 1) if o.gpc_reg_fade_kimg > 0 else 1
            swap = (1 - a) * 1 + a * o.gpc_reg_prob
        nrr = o.neural_rendering_resolution_initial
        if o.neural_rendering_resolution_final is not None:
            a = min(nimg / (o.neural_rendering_resolution_fade_kimg * 1e3), 1)
            nrr = int(np.rint(o.neural_rendering_resolution_initial * (1 - a)
                              + o.neural_rendering_resolution_final * a))
        return {"blur_sigma": float(blur_sigma), "swapping_prob": float(swap), "neural_rendering_resolution": nrr}

    def ema_beta(self, progress: Progress) -> float:
        o = self.options
        ema_nimg = (o.ema_kimg if o.ema_kimg is not None else progress.batch_size * 10 / 32) * 1000
        if o.ema_rampup is not None:
            ema_nimg = min(ema_nimg, progress.cur_nimg * o.ema_rampup)
        return 0.5 ** (progress.batch_size / max(ema_nimg, 1e-8))

    # ------------------------------------------------------------------ per-iteration inputs
    def prepare(self, real: Batch, draws: Draws, progress: Progress) -> dict:
        """Each phase's latents ``z [B,z_dim]`` and generator cameras (random dataset labels) ``c [B,25]``."""
        B = real.image.shape[0]
        group = self.options.mbstd_group
        if B > group and B % group:
            raise gan3d.InputError(f"EG3D's minibatch-stddev groups {group} images: the batch per forward pass "
                                   f"({B}) must be at most {group} or a multiple of it (set batch / batch_gpu)")
        out = {}
        for ph in self.phases():
            z = draws.randn(f"gen_z/{ph.name}", (B, self.options.z_dim), self.device)
            idx = draws.randint(f"gen_c_index/{ph.name}", len(self.labels), (B,))
            out[ph.name] = (z, self.labels[idx].to(self.device))
        return out

    # ------------------------------------------------------------------ the networks, as the loss runs them
    def _record(self, phase: str, key: str, value) -> None:
        if self.trace is not None:
            entry = self.trace.setdefault(phase, {})
            if key == "run_D":
                entry.setdefault("run_D", []).append(value)
            else:
                entry[key] = value

    def _swap(self, c: torch.Tensor, u: torch.Tensor, prob: float) -> torch.Tensor:
        """Rows (or all, for a scalar ``u``) with ``u < prob`` take the camera of the previous row."""
        return torch.where(u < prob, torch.roll(c.clone(), 1, 0), c)

    def _mix(self, ws: torch.Tensor, z: torch.Tensor, c: torch.Tensor, draws: Draws, phase: str) -> torch.Tensor:
        """Style mixing: from a random cutoff on, ws of a second latent (mapped with the unswapped ``c``)."""
        num_ws = ws.shape[1]
        cutoff = int(draws.randint(f"{phase}/mix_cutoff", num_ws - 1, ())) + 1
        if not float(draws.rand(f"{phase}/mix_u", ())) < self.options.style_mixing_prob:
            cutoff = num_ws
        z2 = draws.randn(f"{phase}/mix_z", z.shape, z.device)
        mixed = self.G.mapping(z2, c, update_emas=False)
        return torch.cat([ws[:, :cutoff], mixed[:, cutoff:]], dim=1)

    def run_G(self, z: torch.Tensor, c: torch.Tensor, sched: dict, draws: Draws, phase: str,
              update_emas: bool = False) -> dict[str, torch.Tensor]:
        """Fakes ``{'image' [B,3,R,R], 'image_raw' [B,3,r,r], 'image_depth' [B,1,r,r]}`` for ``z``, rendered
        from ``c`` and conditioned on ``c`` or (pose-conditioning swap) the previous row's camera."""
        B = z.shape[0]
        if sched["swapping_prob"] >= 0:
            c_cond = self._swap(c, draws.rand(f"{phase}/swap_u", (B, 1), c.device), sched["swapping_prob"])
        else:
            c_cond = torch.zeros_like(c)
        self._record(phase, "mapping_c", c_cond)
        ws = self.G.mapping(z, c_cond, update_emas=update_emas)
        if self.options.style_mixing_prob > 0:
            ws = self._mix(ws, z, c, draws, phase)
        nrr = int(sched["neural_rendering_resolution"])
        self.G.neural_rendering_resolution = nrr  # the official synthesis keeps it on G
        out = self.G.synthesize(ws, c, neural_rendering_resolution=nrr, draws=ScopedDraws(draws, f"{phase}/G/"))
        gen = {"image": out.image, "image_raw": out.image_raw, "image_depth": out.depth}
        self._record(phase, "gen", dict(gen, ws=ws))
        return gen

    def run_D(self, img: dict[str, torch.Tensor], c: torch.Tensor, sched: dict, draws: Draws,
              phase: str) -> torch.Tensor:
        """Logits ``[B,1]``; like the official code this **replaces** ``img['image']`` by its blurred
        version (the R1 gradient is then taken with respect to the blurred image)."""
        before = img["image"]
        img["image"] = blur(img["image"], sched["blur_sigma"])
        if self.augment_pipe is not None:
            self._augment(img, draws, phase)
        if self.trace is not None:
            self._record(phase, "run_D", {"image_raw_in": img["image_raw"].detach(),
                                          "image_in": before.detach(), "image_blurred": img["image"].detach()})
        logits = self.D(img, c, draws=ScopedDraws(draws, f"{phase}/D/"))
        if self.trace is not None:
            self.trace[phase]["run_D"][-1]["logits"] = logits.detach()
        return logits

    def real_images(self, real: Batch, sched: dict) -> dict[str, torch.Tensor]:
        """``{'image': [B,3,R,R], 'image_raw': [B,3,r,r]}``: the raw target is the antialiased resize to the
        neural rendering resolution, blurred like D's input (``blur_raw_target``)."""
        raw = resize_antialiased(real.image, int(sched["neural_rendering_resolution"]))
        return {"image": real.image, "image_raw": blur(raw, sched["blur_sigma"])}

    # ------------------------------------------------------------------ the loss
    def loss(self, phase: Phase, real: Batch, inputs: dict, draws: Draws, progress: Progress
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sched = self.schedule(progress)
        self._last_nrr = int(sched["neural_rendering_resolution"])
        gen_z, gen_c = inputs[phase.name]
        name = phase.name
        if name == "Gmain":
            gen = self.run_G(gen_z, gen_c, sched, draws, name)
            logits = self.run_D(gen, gen_c, sched, draws, name)
            loss = F.softplus(-logits)
            return loss.mean(), _phase_stats(name, {"Loss/scores/fake": logits, "Loss/signs/fake": logits.sign(),
                                                    "Loss/G/loss": loss})
        if name == "Greg":
            return self._density_reg(gen_z, gen_c, sched, draws)
        if name == "Dmain":
            # G takes no step here (it does not require grad); update_emas moves its w_avg
            gen = self.run_G(gen_z, gen_c, sched, draws, name, update_emas=True)
            fake_logits = self.run_D(gen, gen_c, sched, draws, name)
            real_img = self.real_images(real, sched)
            real_img = {k: v.detach() for k, v in real_img.items()}
            real_logits = self.run_D(real_img, real.label, sched, draws, name)
            self._observe_reals(real_logits)
            loss_fake, loss_real = F.softplus(fake_logits), F.softplus(-real_logits)
            return loss_fake.mean() + loss_real.mean(), _phase_stats(name, {
                "Loss/scores/fake": fake_logits, "Loss/signs/fake": fake_logits.sign(),
                "Loss/scores/real": real_logits, "Loss/signs/real": real_logits.sign(),
                "Loss/D/loss": loss_fake + loss_real})
        if name == "Dreg":
            real_img = {k: v.detach().requires_grad_(True) for k, v in self.real_images(real, sched).items()}
            logits = self.run_D(real_img, real.label, sched, draws, name)
            self._observe_reals(logits)
            # real_img['image'] is now the blurred image: the official R1 differentiates with respect to it
            g_image, g_raw = torch.autograd.grad(logits.sum(), [real_img["image"], real_img["image_raw"]],
                                                 create_graph=True)
            penalty = g_image.square().sum([1, 2, 3]) + g_raw.square().sum([1, 2, 3])
            loss = penalty * (self.options.r1_gamma / 2)
            return loss.mean(), _phase_stats(name, {"Loss/scores/real": logits, "Loss/signs/real": logits.sign(),
                                                    "Loss/r1_penalty": penalty, "Loss/D/reg": loss})
        raise ValueError(f"unknown EG3D phase {name!r}")

    def _density_reg(self, gen_z: torch.Tensor, gen_c: torch.Tensor, sched: dict, draws: Draws):
        """L1 between the raw densities at uniform points in ``[-1,1]^3`` and at slightly moved copies."""
        o, B = self.options, gen_z.shape[0]
        if sched["swapping_prob"] >= 0:  # one decision for the whole batch
            c_cond = self._swap(gen_c, draws.rand("Greg/swap_u", (), gen_c.device), sched["swapping_prob"])
        else:
            c_cond = torch.zeros_like(gen_c)
        self._record("Greg", "mapping_c", c_cond)
        ws = self.G.mapping(gen_z, c_cond, update_emas=False)
        if o.style_mixing_prob > 0:  # the official code names undefined variables here; its evident intent
            ws = self._mix(ws, gen_z, gen_c, draws, "Greg")
        x0 = draws.rand("Greg/coord_u", (B, DENSITY_POINTS, 3), ws.device) * 2 - 1
        x1 = x0 + draws.randn("Greg/perturb_n", (B, DENSITY_POINTS, 3), ws.device) * o.density_reg_p_dist
        points = torch.cat([x0, x1], dim=1)
        # the decoder ignores view directions (officially random normals), so none are drawn
        sigma = self.G.sample_mixed(points, torch.zeros_like(points), ws, draws=ScopedDraws(draws, "Greg/G/"))["sigma"]
        tv = F.l1_loss(sigma[:, :DENSITY_POINTS], sigma[:, DENSITY_POINTS:]) * o.density_reg
        self._record("Greg", "density_reg", {"ws": ws, "coordinates": points, "sigma": sigma})
        return tv, {"Loss/G/density_reg": tv}

    # ------------------------------------------------------------------ augmentation (ADA)
    def _augment(self, img: dict[str, torch.Tensor], draws: Draws, phase: str) -> None:
        """EG3D's run_D with an augment pipe: ``image`` and ``image_raw`` resized to the image size are
        augmented together as 6 channels (the same transform for both), then split and ``image_raw`` resized
        back (bilinear, antialiased). Replaces both entries of ``img``, so R1 differentiates the augmented ones."""
        image, raw = img["image"], img["image_raw"]
        pair = torch.cat([image, resize_antialiased(raw, image.shape[-1])], dim=1)
        pair = self.augment_pipe(pair, draws, prefix=f"{phase}/augment/")
        img["image"] = pair[:, :image.shape[1]]
        img["image_raw"] = resize_antialiased(pair[:, image.shape[1]:], raw.shape[-1])

    def _observe_reals(self, logits: torch.Tensor) -> None:
        if self.ada is not None:  # the official ADA collects 'Loss/signs/real' from Dmain and Dreg alike
            self.ada.observe(logits)

    def after_iteration(self, progress: Progress, logs: dict[str, float]) -> None:
        """ADA's adjustment every 4 iterations; ``Progress/augment`` (and after an adjustment the real signs'
        mean it used, ``Progress/augment_real_signs``) join the iteration's logged values."""
        if self.augment_pipe is None:
            return
        if self.ada is not None and self.ada.update(progress):
            logs["Progress/augment_real_signs"] = float(self.ada.sign_mean)
        logs["Progress/augment"] = float(self.augment_pipe.p)

    def extra_state(self) -> dict:
        return {"ada": self.ada.state_dict()} if self.ada is not None else {}

    def load_extra_state(self, state: dict) -> None:
        if self.ada is not None and "ada" in state:
            self.ada.load_state_dict(state["ada"])

    # ------------------------------------------------------------------ snapshots
    def export(self, module: EG3DGenerator) -> EG3DGenerator:
        """The EMA generator with a card for this run (``eg3d/<run name>``, the data set's name) and the
        current neural rendering resolution (the official loop copies it to G_ema)."""
        module.neural_rendering_resolution = int(self._last_nrr)
        module.card = training_card(self.run_name or "run", self.data.name, self.resolution, self.options.z_dim,
                                    module.rendering_kwargs, self.labels)
        module.clear_cache()
        return module
