"""StyleGAN2 (rosinality's stylegan2-pytorch layout) as a gan3d model family, ``stylegan2/...``.

A 2D GAN: it has no camera, so :meth:`StyleGAN2Model.synthesize` ignores the one it is given (every view
of a latent is the same image) and metrics that need views (identity across views, pose) do not apply
to it. It exists in gan3d as the teacher LiftedGAN is distilled from and so that such a teacher can be
generated from, compared and scored like any model.

Two checkpoint forms are read:

* gan3d's safe form (``config.json`` with ``"method": "stylegan2"`` + ``weights.pt``), what ``gan3d
  train`` snapshots hold; its state_dict is ``g_ema.*`` (rosinality's key names) and ``latent_avg``;
* a stylegan2-pytorch checkpoint ``.pt`` (``{g_ema, ...}``, optionally ``latent_avg`` as NVIDIA-converted
  files have), read weights-only; its widths are taken from the tensor shapes.

:func:`teacher_state` gives the ``{"g_ema", "latent_avg"}`` dict that LiftedGAN's trainer (and the
authors' code) reads as its teacher.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import pretrained
from .camera import Camera
from .cards import CameraDefaults, LatentSpec, ModelCard, PoseRange
from .errors import CheckpointError, InputError
from .generator import Generator
from .nn.stylegan2 import SLIM_CHANNELS, StyleGAN2Generator
from .outputs import GeneratorOutput
from .unpickle import check_state_dict, load_state_dict

METHOD = "stylegan2"
# The card's camera is a placeholder that the model ignores; a zero pose range says that no view other
# than the one image exists.
CAMERA = CameraDefaults(radius=2.7, focal=4.2647)
NO_POSES = PoseRange(yaw=(0.0, 0.0), pitch=(0.0, 0.0))
NOT_3D = ("a 2D StyleGAN2: the camera is ignored and every view of a latent is the same image, so "
          "multi-view metrics (identity across views, pose, expression along a yaw sweep) do not apply")


@dataclass
class StyleGAN2Config:
    """Architecture of a rosinality StyleGAN2 generator (``channels``: width per resolution 4..size)."""

    size: int = 256
    style_dim: int = 512
    n_mlp: int = 8
    lr_mlp: float = 0.01
    channels: dict[int, int] = field(default_factory=lambda: dict(SLIM_CHANNELS))

    def __post_init__(self):
        self.channels = {int(k): int(v) for k, v in self.channels.items() if int(k) <= int(self.size)}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = {str(k): v for k, v in self.channels.items()}
        return d

    def build(self) -> StyleGAN2Generator:
        return StyleGAN2Generator(self.size, self.style_dim, self.n_mlp, self.channels, self.lr_mlp)


def make_card(name: str, dataset: str, config: StyleGAN2Config, description: str = "") -> ModelCard:
    """A card for a StyleGAN2 of ``config`` named ``stylegan2/<variant>`` (``name`` may omit the family)."""
    if "/" not in name:
        name = f"{METHOD}/{name}"
    return ModelCard(name=name, method=METHOD, dataset=dataset, resolution=config.size,
                     latent=LatentSpec(parts={"z": config.style_dim}), camera=CAMERA, pose_range=NO_POSES,
                     is_3d=False,
                     license="MIT (rosinality/stylegan2-pytorch architecture); weights: see the training data",
                     description=(description + " " if description else "") + f"({NOT_3D}.)")


class StyleGAN2Model(Generator):
    """A rosinality StyleGAN2 ``g_ema`` with its truncation centre ``latent_avg [D]``.

    ``mapping`` gives one ``w`` per synthesis layer ``[B,n_latent,D]`` (truncated towards ``latent_avg``,
    the first ``truncation_cutoff`` layers only when given); ``synthesize`` returns the image in [-1,1]
    (``image_raw`` unclamped). Noise: fresh N(0,1) maps per call, as rosinality's generate.py draws them;
    the stored maps (LiftedGAN's "fixed noise") when :attr:`deterministic`.
    """

    is_3d = False
    not_3d_reason = NOT_3D

    def __init__(self, card: ModelCard, config: StyleGAN2Config | None = None):
        super().__init__(card)
        self.config = config or StyleGAN2Config()
        self.g_ema = self.config.build()
        self.register_buffer("latent_avg", torch.zeros(self.config.style_dim))

    @property
    def num_ws(self) -> int:
        return self.g_ema.n_latent

    @torch.no_grad()
    def compute_latent_avg(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Mean of the mapping over ``n`` codes ``z ~ N(0,I)`` from ``seed`` (rosinality's ``mean_latent``),
        stored in :attr:`latent_avg` and returned ``[D]``."""
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = torch.randn(n, self.config.style_dim, generator=g).to(self.device)
        self.latent_avg.copy_(self.g_ema.mapping(z).mean(0))
        return self.latent_avg.clone()

    def mapping(self, z: torch.Tensor, camera: Camera | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """``z [B,D]`` -> ``w [B,n_latent,D]`` (the conditioning camera is ignored: the model has none)."""
        self.check_truncation(truncation_psi, truncation_cutoff, num_ws=self.num_ws)
        w = self.g_ema.mapping(self.check_latents(z))[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            w[:, :cut] = self.latent_avg.lerp(w[:, :cut], truncation_psi)
        return w

    def synthesize(self, w: torch.Tensor, camera: Camera | None = None, **kwargs) -> GeneratorOutput:
        """``w [B,n_latent,D]`` (or ``[B,D]`` for every layer) -> image ``[B,3,size,size]`` in [-1,1].

        ``camera`` is accepted for the interface and ignored (a 2D model renders one view).
        """
        if kwargs:
            raise InputError(f"StyleGAN2 synthesis takes no options {sorted(kwargs)}")
        D = self.config.style_dim
        if not (w.ndim == 2 and w.shape[1] == D) and not (w.ndim == 3 and w.shape[1:] == (self.num_ws, D)):
            raise InputError(f"w must have shape [B,{self.num_ws},{D}] or [B,{D}], got {list(w.shape)}")
        noise = None
        if not self.deterministic:
            noise = [torch.randn(s, device=w.device) for s in self.g_ema.noise_shapes(w.shape[0])]
        img, _ = self.g_ema.synthesis(w, noise)
        return GeneratorOutput(image=img.clamp(-1, 1), image_raw=img)

    def export_config(self) -> dict:
        return self.config.to_dict()


def teacher_state(model: StyleGAN2Model) -> dict[str, torch.Tensor | dict]:
    """``{"g_ema": state_dict, "latent_avg": [D]}``: the stylegan2-pytorch checkpoint keys a LiftedGAN teacher
    is read from (``torch.save`` it; it loads weights-only)."""
    return {"g_ema": {k: v.detach().cpu() for k, v in model.g_ema.state_dict().items()},
            "latent_avg": model.latent_avg.detach().cpu()}


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> StyleGAN2Config:
    """The architecture of a rosinality ``g_ema`` state_dict, read from its tensor shapes."""
    try:
        style_dim = int(sd["style.1.weight"].shape[1])
        n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
        lr_mlp = 0.01  # not recorded in the weights; every rosinality model uses it
        channels = {4: int(sd["conv1.conv.weight"].shape[1])}
        n_convs = sum(1 for k in sd if k.startswith("convs.") and k.endswith(".conv.weight"))
        for i in range(n_convs // 2):
            channels[2 ** (i + 3)] = int(sd[f"convs.{2 * i}.conv.weight"].shape[1])
    except KeyError as e:
        raise CheckpointError(f"not a rosinality StyleGAN2 g_ema state_dict (no key {e.args[0]!r})") from None
    return StyleGAN2Config(size=2 ** (n_convs // 2 + 2), style_dim=style_dim, n_mlp=n_mlp, lr_mlp=lr_mlp,
                           channels=channels)


def _load(card: ModelCard, config: StyleGAN2Config, g_ema: dict, latent_avg: torch.Tensor | None,
          source: str, device: str) -> StyleGAN2Model:
    model = StyleGAN2Model(card, config)
    check_state_dict(g_ema, {k: tuple(v.shape) for k, v in model.g_ema.state_dict().items()}, source)
    model.g_ema.load_state_dict(g_ema, strict=True)
    model.to(device)
    if latent_avg is None:
        model.compute_latent_avg()
    else:
        model.latent_avg.copy_(torch.as_tensor(latent_avg).reshape(-1).to(model.latent_avg))
    return model


def load_safe(path: str | os.PathLike, device: str = "cpu") -> StyleGAN2Model:
    """gan3d's safe form of a StyleGAN2 (``"method": "stylegan2"``)."""
    form = pretrained.read(path, METHOD)
    if form is None:
        raise CheckpointError(f"{str(path)!r} is not a StyleGAN2 safe-form checkpoint (a folder with config.json "
                              f"whose 'method' is 'stylegan2', and weights.pt)")
    try:
        config = StyleGAN2Config(**form.config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{form.config_path} is not a valid StyleGAN2 config ({e})") from None
    sd = form.state_dict()
    g_ema = {k.removeprefix("g_ema."): v for k, v in sd.items() if k.startswith("g_ema.")}
    return _load(form.card(), config, g_ema, sd.get("latent_avg"), str(form.weights_path), device)


def load_rosinality(path: str | os.PathLike, device: str = "cpu", card: ModelCard | None = None) -> StyleGAN2Model:
    """A stylegan2-pytorch checkpoint (``g_ema`` [+ ``latent_avg``]) read weights-only; without
    ``latent_avg`` the truncation centre is the mean of 4096 mapped codes (seed 0)."""
    path = Path(path)
    obj = load_state_dict(path, safe_globals=[argparse.Namespace])
    if not (isinstance(obj, dict) and isinstance(obj.get("g_ema"), dict)):
        raise CheckpointError(f"{path} is not a stylegan2-pytorch checkpoint (it has no 'g_ema' state_dict)")
    config = config_from_state_dict(obj["g_ema"])
    card = card or make_card(f"{METHOD}/{path.stem}", "unknown", config, f"StyleGAN2 read from {path.name}")
    return _load(card, config, obj["g_ema"], obj.get("latent_avg"), str(path), device)


def recognise(path: Path, device: str = "cpu") -> StyleGAN2Model | None:
    """The ``gan3d_load_checkpoint`` logic: a StyleGAN2 if ``path`` is one of the two forms, else None."""
    path = Path(path)
    if pretrained.read(path, METHOD) is not None:
        return load_safe(path, device)
    if path.is_file() and path.suffix == ".pt" and pretrained.find(path) is None:
        try:
            obj = load_state_dict(path, safe_globals=[argparse.Namespace])
        except CheckpointError:
            return None
        if isinstance(obj, dict) and isinstance(obj.get("g_ema"), dict) and "style.1.weight" in obj["g_ema"]:
            return load_rosinality(path, device)
    return None


def load_teacher(path: str | os.PathLike, device: str = "cpu") -> StyleGAN2Model:
    """A StyleGAN2 teacher from either form (a clear error for anything else)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"teacher {str(path)!r} does not exist; give a StyleGAN2 snapshot folder "
                              f"(RUN/snapshots/<kimg>/generator) or a stylegan2-pytorch .pt")
    model = recognise(path, device)
    if model is None:
        raise CheckpointError(f"{str(path)!r} is not a StyleGAN2 checkpoint: give a gan3d StyleGAN2 snapshot folder "
                              f"(config.json with method 'stylegan2' + weights.pt) or a stylegan2-pytorch .pt with "
                              f"'g_ema'")
    return model


__all__ = ["METHOD", "NOT_3D", "StyleGAN2Config", "StyleGAN2Model", "config_from_state_dict", "load_rosinality",
           "load_safe", "load_teacher", "make_card", "recognise", "teacher_state"]
