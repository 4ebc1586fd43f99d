"""Model cards of the CNeRF plugin."""

from __future__ import annotations

import gan3d

from .camera import focal_from_half_fov

CITATION = gan3d.Citation(
    title="Semantic 3D-aware Portrait Synthesis and Manipulation Based on Compositional Neural Radiance Field",
    arxiv="2302.01579",
    bibtex=(
        "@inproceedings{ma2023semantic,\n"
        "  title={Semantic 3D-aware Portrait Synthesis and Manipulation Based on Compositional Neural Radiance Field},\n"
        "  author={Ma, Tianxiang and Li, Bingchuan and He, Qian and Dong, Jing and Tan, Tieniu},\n"
        "  booktitle={Proceedings of the AAAI Conference on Artificial Intelligence},\n"
        "  year={2023}\n}"
    ),
)

OFFICIAL_FILE = "final_model.pt"
DRIVE_URL = "https://drive.google.com/file/d/1td8s7gNbcI7vaB0JPkCOkYSqzr02tdUN/view?usp=sharing"

# Training cameras: azimuth ~ N(0, 0.3), elevation ~ N(0, 0.15) radians; three standard deviations,
# elevation turned into gan3d's pitch (-pi/2 sin(elevation)).
_POSE_RANGE = gan3d.PoseRange(yaw=(-0.9, 0.9), pitch=(-0.68, 0.68))

FFHQ512 = gan3d.ModelCard(
    name="cnerf/ffhq512",
    method="cnerf",
    dataset="FFHQ",
    resolution=512,
    latent=gan3d.LatentSpec(parts={"z": 256}),
    camera=gan3d.CameraDefaults(radius=1.0, look_at=(0.0, 0.0, 0.0), focal=focal_from_half_fov(6.0)),
    pose_range=_POSE_RANGE,
    weights=(gan3d.WeightFile(
        filename=OFFICIAL_FILE,
        note=(f"the authors' checkpoint is on Google Drive ({DRIVE_URL}); download it in a browser "
              f"(its g_ema generator is used; no sha256 is published)")),),
    license="CC BY-NC-SA 4.0 (code and released weights, Ma et al. 2023)",
    citation=CITATION,
    description=("CNeRF: nine FiLM-SIREN local generators (background, face, eyes, mouth, brows, nose, ears, "
                 "hair, cloth) fused by their semantic masks into one SDF radiance field, volume rendered at "
                 "64x64 with 64 samples per ray, then a StyleGAN2 decoder with a semantic branch to 512x512."),
)

CARDS = (FFHQ512,)


def card_for_config(config, name: str = "cnerf/custom", base: gan3d.ModelCard = FFHQ512) -> gan3d.ModelCard:
    """A card like ``base`` for another architecture size (resolution and latent size from ``config``)."""
    return base.model_copy(update={
        "name": name, "resolution": config.size if config.full_pipeline else config.render_resolution,
        "latent": gan3d.LatentSpec(parts={"z": config.style_dim}),
        "camera": gan3d.CameraDefaults(radius=1.0, look_at=(0.0, 0.0, 0.0),
                                       focal=focal_from_half_fov(config.half_fov_degrees)),
        "weights": (), "description": f"CNeRF architecture {config!r}"})
