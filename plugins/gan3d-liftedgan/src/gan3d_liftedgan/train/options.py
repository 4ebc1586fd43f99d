"""LiftedGAN's training options (``config/ffhq_256.py`` and ``config/cats_256.py``), the paper's ablations as
switches, and the presets."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from ..model import LiftedGANArchitecture

# The four ablations of the paper (and of the reproduction's Table 3): each sets one weight to zero.
ABLATIONS = {"wo_flip": "lam_flip", "wo_perturb": "lam_perturb_im", "wo_idt": "lam_identity_perturb",
             "wo_rega": "lam_albedo_rank"}


class LiftedGANTrainOptions(LiftedGANArchitecture):
    """Defaults are the official FFHQ config; the cats preset changes three weights and drops the face net.

    The architecture and rendering fields (widths, depth range, field of view, blur, ``truncation``: the psi
    of the teacher's targets) are :class:`~gan3d_liftedgan.model.LiftedGANArchitecture`'s, inherited.
    """

    model_config = ConfigDict(extra="forbid")

    teacher: str | None = Field(None, description="the frozen StyleGAN2: a gan3d stylegan2 snapshot folder "
                                                  "(RUN/snapshots/<kimg>/generator), a stylegan2-pytorch .pt, a "
                                                  "registered model name (stylegan2/synth64) or run:NAME")
    resolution: int | None = Field(None, description="expected teacher resolution (checked; default: the data's)")
    style_dim: int | None = Field(None, ge=1, description="expected teacher latent size (checked when given)")
    w_stats_samples: int = Field(50_000, ge=2, description="mapped codes for w_mu and w_sigma_inv")
    # loss weights
    lam_rec: float = Field(5.0, ge=0)
    lam_perc: float = Field(1.0, ge=0)
    lam_flip: float = Field(0.8, ge=0)
    lam_perturb_im: float = Field(2.0, ge=0, description="x L_perturb_im and x L_perturb_G (>0 enables pass 2)")
    lam_perturb_param: float = Field(4.0, ge=0)
    lam_identity_perturb: float = Field(1.0, ge=0)
    lam_reg_style: float = Field(0.5, ge=0)
    lam_albedo_rank: float = Field(1e-2, ge=0)
    rank_downsample: int | None = Field(4, ge=1)
    # ablations
    wo_flip: bool = Field(False, description="no symmetric (flipped) reconstruction: lam_flip = 0")
    wo_perturb: bool = Field(False, description="no perturbation image losses: lam_perturb_im = 0")
    wo_idt: bool = Field(False, description="no identity regularisation: lam_identity_perturb = 0")
    wo_rega: bool = Field(False, description="no albedo low-rank regularisation: lam_albedo_rank = 0")
    # optimiser
    learning_rate: float = Field(1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(5e-4, ge=0, description="torch Adam's coupled L2, as the official")
    # perceptual loss and identity network
    n_scale: int = Field(3, ge=1)
    vgg_indices: list[int] = Field(default_factory=lambda: [1, 2, 3])
    perc_type: Literal["cosine", "l1", "l2"] = "cosine"
    identity_net: Literal["lresnet_casia", "facenet"] = Field(
        "lresnet_casia", description="the official LResNet-18 (CASIA), or FaceNet (VGGFace2) where it cannot be had")
    identity_weights: str | None = Field(None, description="the identity network's file (default: the cache)")
    vgg_weights: str | None = Field(None, description="torchvision's vgg16-397923af.pth (default: the cache)")
    backbones: Literal["pretrained", "random"] = Field(
        "pretrained", description="'random': VGG16 and the face net from a fixed seed, not pretrained (offline tests, "
                                  "and the synthetic-world recipes, where the pretrained files cannot be had)")
    # perturbation sampling
    yaw_range: float = Field(45.0, gt=0, description="perturbed yaw U(-r, r) degrees")
    pitch_range: float = Field(15.0, ge=0, description="perturbed pitch U(-r, r) degrees")
    identity_yaw: float = Field(25.0, gt=0, description="identity loss on perturbations with |yaw| < this")
    style_init_iters: int = Field(0, ge=0, description="not official (0 = off): before training, fit netSC to "
                                  "return its input style, M(w, l, v) ~ w, for this many Adam steps")
    style_init_lr: float = Field(1e-3, gt=0, description="the style pre-fit's Adam learning rate")
    style_init_batch: int = Field(64, ge=2, description="styles per style pre-fit step")
    clip_render_grad: bool = Field(True, description="ContourGradientClip on the rasteriser's copy of the depth "
                                                     "(training only; the architecture's fields are inherited)")

    def weights(self) -> dict[str, float]:
        """The loss weights after the ablation switches."""
        w = {k: float(getattr(self, k)) for k in ("lam_rec", "lam_perc", "lam_flip", "lam_perturb_im",
                                                  "lam_perturb_param", "lam_identity_perturb", "lam_reg_style",
                                                  "lam_albedo_rank")}
        for switch, key in ABLATIONS.items():
            if getattr(self, switch):
                w[key] = 0.0
        return w

    def ablations(self) -> list[str]:
        return [s for s in ABLATIONS if getattr(self, s)]

    def architecture(self) -> dict:
        """The :class:`~gan3d_liftedgan.model.LiftedGANArchitecture` fields of these options."""
        return {k: getattr(self, k) for k in LiftedGANArchitecture.model_fields}


CATS = {"lam_identity_perturb": 0.0, "lam_reg_style": 0.1, "lam_albedo_rank": 5e-3}
PRESETS = {
    # config/ffhq_256.py: batch 8, 10 epochs of 5000 steps
    "ffhq256": {"batch": 8, "kimg": 400},
    "afhqcat256": {"batch": 8, "kimg": 400, **CATS},
    # the 64-px synthetic world, distilled from the stylegan2 synth64 teacher on a CPU: narrow networks, the
    # blur scaled with the image (size 10 -> 3 px), FaceNet for identity (the LResNet is not downloadable)
    "synth64": {"batch": 4, "kimg": 8, "mlp_hidden": 128, "depth_z_dim": 128, "depth_nf": 8, "trans_nf": 8,
                "blur_size": 3, "blur_sigma": 1.0, "identity_net": "facenet", "rank_downsample": 2,
                "w_stats_samples": 20_000,
                # not official: netD's transposed-conv doublings leave a 4-px checkerboard that at 64 px is a
                # sixteenth of the face and that training amplified into vertical stripes (80% of the depth
                # variance after 600 steps); resize-convs remove it (issue #13 measurements, 2026-12-03)
                "depth_upsample": "resize",
                # not official: netSC from PyTorch's default init maps every w to nearly one style, and in the
                # few hundred steps a CPU run has (the official has 50 000) it never leaves that mean face
                # (canonical images' spread across w 0.02 vs the targets' 0.35 after 25 steps, reconstruction
                # L1 0.70); a 1500-step pre-fit of M(w, l, v) ~ w (11 s) keeps the spread at 0.29 and halves
                # the reconstruction loss (issue #13 measurements, 2026-12-03)
                "style_init_iters": 1500},
}
