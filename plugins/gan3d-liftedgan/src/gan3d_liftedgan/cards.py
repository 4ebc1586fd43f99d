"""Model cards of the authors' released LiftedGAN models (FFHQ and AFHQ cats, 256 px)."""

from __future__ import annotations

import math

import gan3d

# Google-Drive archives from the official README (seasonSH/LiftedGAN). Drive needs an interactive
# confirmation for large files, so gan3d does not download them; users add the unpacked files by hand.
LIFTEDGAN_ZIP = "https://drive.google.com/file/d/1-44Eivt7GHINkX6zox89HHttujYWThz2/view"
PRETRAINED_ZIP = "https://drive.google.com/file/d/1qVoWu_fps17iTzYptwuN3ptgYeCpIl2e/view"

CITATION = gan3d.Citation(
    title="Lifting 2D StyleGAN for 3D-Aware Face Generation",
    arxiv="2011.13126",
    bibtex="@inproceedings{shi2021lifting,\n  title={Lifting 2D StyleGAN for 3D-Aware Face Generation},\n"
           "  author={Shi, Yichun and Aggarwal, Divyansh and Jain, Anil K.},\n"
           "  booktitle={IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},\n  year={2021}\n}",
)

# LiftedGAN's camera: at the origin, FOV 10 degrees, the face's pivot at depth 1. In gan3d terms an orbit
# of radius 1 about the face with normalised focal 1 / (2 tan 5 deg).
CAMERA = gan3d.CameraDefaults(radius=1.0, look_at=(0.0, 0.0, 0.0), focal=0.5 / math.tan(math.radians(5.0)))

# Trained view perturbations: yaw within +-45 deg, pitch within +-15 deg (gan3d's pitch parameter for a
# true elevation e is (pi/2) sin(e)).
POSE_RANGE = gan3d.PoseRange(yaw=(-math.pi / 4, math.pi / 4),
                             pitch=(-math.pi / 2 * math.sin(math.radians(15)), math.pi / 2 * math.sin(math.radians(15))))

CHECKPOINT_FILE = "checkpoint.pth"
CONFIG_FILE = "config.py"


def _card(variant: str, dataset: str, stylegan_file: str, config_name: str, description: str) -> gan3d.ModelCard:
    return gan3d.ModelCard(
        name=f"liftedgan/{variant}", method="liftedgan", dataset=dataset, resolution=256,
        latent=gan3d.LatentSpec(parts={"z": 512}), camera=CAMERA, pose_range=POSE_RANGE,
        weights=(
            gan3d.WeightFile(filename=stylegan_file, note=(
                f"the authors' StyleGAN2 (its g_ema is used) from the pretrained archive {PRETRAINED_ZIP} "
                f"(unzip into pretrained/)")),
            gan3d.WeightFile(filename=CHECKPOINT_FILE, note=(
                f"the checkpoint_XXX.pth of the {config_name} model in the LiftedGAN archive {LIFTEDGAN_ZIP}; "
                f"add it with --as {CHECKPOINT_FILE}")),
            gan3d.WeightFile(filename=CONFIG_FILE, note=(
                "the config.py next to that checkpoint (read as literals, never executed)")),
        ),
        license="MIT (code, seasonSH/LiftedGAN); the weights were trained on FFHQ (CC BY-NC-SA 4.0) / AFHQ "
                "(CC BY-NC 4.0) images: non-commercial use",
        citation=CITATION, description=description)


FFHQ = _card("ffhq256", "FFHQ", "stylegan2-ffhq-cropped-300000.pt", "FFHQ",
             "LiftedGAN lifted from the authors' slim 256-px StyleGAN2 trained on re-cropped FFHQ; a depth-map "
             "mesh rendered with the core's PyTorch3D-0.2.5-rule rasteriser.")
AFHQ_CAT = _card("afhqcat256", "AFHQ cats", "stylegan2-cats-cropped-300000.pt", "cats",
                 "LiftedGAN lifted from the authors' slim 256-px StyleGAN2 trained on AFHQ cats.")
CARDS = (FFHQ, AFHQ_CAT)


def card_for_generator_path(generator_path: str) -> gan3d.ModelCard:
    """The card matching an official config's ``generator_path`` (cats or FFHQ)."""
    return AFHQ_CAT if "cat" in generator_path.lower() else FFHQ
