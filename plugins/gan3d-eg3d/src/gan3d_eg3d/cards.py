"""Model cards of the official EG3D checkpoints (NVlabs/eg3d ``docs/models.md``, NGC catalog).

Cameras: FFHQ/AFHQ are viewed from radius 2.7 with the dataset's normalised focal 4.2647
(2985.29/700, the value of the FFHQ labels, gen_videos.py and the visualizer; FOV about 18.84 deg),
looking at the pivot EG3D's training config uses. ShapeNet cars use radius 1.7, pivot at the origin,
focal 1.7074 (gen_videos.py's Shapenet value). sha256 digests are not pinned: NVIDIA does not publish
them and the files could not be downloaded here; ``gan3d weights add`` records the digest of a file
added by hand.
"""

from __future__ import annotations

import math

from gan3d.cards import CameraDefaults, Citation, LatentSpec, ModelCard, PoseRange, WeightFile
from gan3d.errors import validated

NGC_PAGE = "https://catalog.ngc.nvidia.com/orgs/nvidia/teams/research/models/eg3d"
NGC_FILES = "https://api.ngc.nvidia.com/v2/models/nvidia/research/eg3d/versions/1/files/"
LICENSE = ("NVIDIA Source Code License for EG3D (non-commercial research use only; "
           "https://github.com/NVlabs/eg3d/blob/main/LICENSE.txt)")

CITATION = Citation(
    title="Efficient Geometry-aware 3D Generative Adversarial Networks (CVPR 2022)",
    arxiv="2112.07945",
    bibtex="""@inproceedings{Chan2022,
  author = {Eric R. Chan and Connor Z. Lin and Matthew A. Chan and Koki Nagano and Boxiao Pan and Shalini De Mello and Orazio Gallo and Leonidas Guibas and Jonathan Tremblay and Sameh Khamis and Tero Karras and Gordon Wetzstein},
  title = {Efficient Geometry-aware {3D} Generative Adversarial Networks},
  booktitle = {CVPR},
  year = {2022}
}""",
)

FFHQ_CAMERA = CameraDefaults(radius=2.7, look_at=(0.0, 0.0, 0.2), focal=4.2647)
AFHQ_CAMERA = CameraDefaults(radius=2.7, look_at=(0.0, 0.0, -0.06), focal=4.2647)
SHAPENET_CAMERA = CameraDefaults(radius=1.7, look_at=(0.0, 0.0, 0.0), focal=1.7074)

# Faces and cats are photographed from the front half-sphere; the yaw limit is where the trained
# pose distribution ends (steep views show the "black background" failure the rebalanced models ease).
FACE_POSES = PoseRange(yaw=(-math.pi / 2, math.pi / 2), pitch=(-math.pi / 4, math.pi / 4))
CAR_POSES = PoseRange(yaw=(-math.pi, math.pi), pitch=(-math.pi / 2, math.pi / 4))


def _weights(filename: str, note: str = "") -> tuple[WeightFile, ...]:
    return (WeightFile(filename=filename, urls=(NGC_FILES + filename,),
                       note=note or f"download {filename} from {NGC_PAGE} and run "
                                    f"`gan3d weights add {filename} --model eg3d/{filename[:-4]}`"),)


def _card(variant: str, dataset: str, resolution: int, camera: CameraDefaults, poses: PoseRange,
          description: str, note: str = "") -> ModelCard:
    return ModelCard(
        name=f"eg3d/{variant}", method="eg3d", dataset=dataset, resolution=resolution,
        latent=LatentSpec(parts={"z": 512}), camera=camera, pose_range=poses,
        weights=_weights(f"{variant}.pkl", note), license=LICENSE, citation=CITATION, description=description,
    )


CARDS: tuple[ModelCard, ...] = (
    _card("ffhq512-64", "FFHQ", 512, FFHQ_CAMERA, FACE_POSES,
          "FFHQ 512 px, neural rendering at 64x64, super-resolution 8XDC, pose-conditioned generator.",
          note=f"not in the 2022 NGC release (NVlabs/eg3d#38); take it from the latest version on {NGC_PAGE} "
               f"and run `gan3d weights add ffhq512-64.pkl --model eg3d/ffhq512-64`"),
    _card("ffhq512-128", "FFHQ", 512, FFHQ_CAMERA, FACE_POSES,
          "FFHQ 512 px, fine-tuned to neural rendering at 128x128, super-resolution 8XDC."),
    _card("ffhqrebalanced512-64", "FFHQ", 512, FFHQ_CAMERA, FACE_POSES,
          "FFHQ with rare poses duplicated, neural rendering 64x64; better at steep angles."),
    _card("ffhqrebalanced512-128", "FFHQ", 512, FFHQ_CAMERA, FACE_POSES,
          "FFHQ with rare poses duplicated, neural rendering 128x128; better at steep angles."),
    _card("afhqcats512-128", "AFHQ cats", 512, AFHQ_CAMERA, FACE_POSES,
          "AFHQv2 cats 512 px, neural rendering 128x128 (transfer-learned from FFHQ)."),
    _card("shapenetcars128-64", "ShapeNet cars", 128, SHAPENET_CAMERA, CAR_POSES,
          "ShapeNet cars 128 px, neural rendering 64x64, super-resolution 2X, no pose conditioning, white background."),
)

CARDS_BY_NAME = {c.name: c for c in CARDS}


# ModelCard fields -> the pickle entries they come from (named in errors)
CHECKPOINT_NAMES = {
    "resolution": "init_kwargs['img_resolution']", "latent.parts": "init_kwargs['z_dim']",
    "camera.radius": "rendering_kwargs['avg_camera_radius']", "camera.look_at": "rendering_kwargs['avg_camera_pivot']",
}


def card_for_checkpoint(stem: str, init_kwargs: dict, rendering_kwargs: dict, source: str = "checkpoint") -> ModelCard:
    """A card for a checkpoint file outside the registry.

    An official file name (``ffhq512-128.pkl``) gets the registered card; anything else (a user's
    training snapshot) a card named ``eg3d/<stem>`` whose camera comes from ``rendering_kwargs``
    (``avg_camera_radius``/``avg_camera_pivot``) and whose focal is the FFHQ one, or ShapeNet's for
    models with a white background. Values a card cannot hold (``z_dim`` 0, a pivot of two numbers)
    are a :class:`CheckpointError` naming ``source`` and each bad entry.
    """
    shapenet_like = bool(rendering_kwargs.get("white_back", False))
    base = SHAPENET_CAMERA if shapenet_like else FFHQ_CAMERA
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "checkpoint"
    # raw values: the card model checks them and names each bad one
    data = dict(name=f"eg3d/{safe}", method="eg3d", dataset="unknown (user checkpoint)",
                resolution=init_kwargs.get("img_resolution", 512),
                latent={"parts": {"z": init_kwargs.get("z_dim", 512)}},
                camera={"radius": rendering_kwargs.get("avg_camera_radius", base.radius),
                        "look_at": rendering_kwargs.get("avg_camera_pivot", base.look_at), "focal": base.focal},
                pose_range=CAR_POSES if shapenet_like else FACE_POSES, license=LICENSE, citation=CITATION,
                description="EG3D checkpoint loaded from a file")
    card = validated(ModelCard, data, source=source, names=CHECKPOINT_NAMES,
                     fix="The generator's init_kwargs/rendering_kwargs were edited or damaged: export the "
                         "snapshot again from its training run, or pass a registered model's card.")
    known = CARDS_BY_NAME.get(f"eg3d/{stem}")
    if known is not None and known.resolution == card.resolution and known.latent == card.latent:
        return known
    return card
