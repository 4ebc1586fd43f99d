"""Reading CNeRF checkpoints: the authors' ``final_model.pt`` and gan3d's safe form."""

from __future__ import annotations

from pathlib import Path


import gan3d
from gan3d import pretrained
from gan3d.errors import CheckpointError
from gan3d.unpickle import load_state_dict

from .cards import FFHQ512, OFFICIAL_FILE
from .config import CNeRFConfig
from .generator import CNeRFGenerator, count_classes


def generator_state(data) -> dict | None:
    """The generator state_dict in an official checkpoint (``g_ema``, or a bare state_dict), else None."""
    if isinstance(data, dict) and isinstance(data.get("g_ema"), dict):
        data = data["g_ema"]
    if isinstance(data, dict) and any(isinstance(k, str) and k.startswith("renderer.network.") for k in data):
        return data
    return None


def from_official_state(state: dict, card: gan3d.ModelCard = FFHQ512, config: CNeRFConfig | None = None,
                        device: str = "cpu") -> CNeRFGenerator:
    """Build the official full-size generator (or ``config``) and load ``state`` strictly."""
    config = config or CNeRFConfig()
    if "decoder.style.1.weight" not in state and config.full_pipeline:
        # a stage-1 (low-resolution) checkpoint: renderer only
        config = config.replace(full_pipeline=False)
    n = count_classes(state)
    if n and n != config.num_classes:
        raise CheckpointError(
            f"this checkpoint has {n} semantic classes (local generators); gan3d's CNeRF supports the "
            f"official {config.num_classes}-class model only (the 12-class low-resolution checkpoints of "
            f"the student re-implementation HemaDevaSagar35/CNeRF are another architecture)")
    gen = CNeRFGenerator(card, config)
    gen.load_official_state_dict(state)
    return gen.to(device)


def load_official(path: str | Path, device: str = "cpu", card: gan3d.ModelCard = FFHQ512) -> CNeRFGenerator:
    """``final_model.pt`` (``{"g", "d", "g_ema"}``) or a bare generator state_dict file."""
    path = Path(path)
    state = generator_state(load_state_dict(path))
    if state is None:
        raise CheckpointError(f"{str(path)!r} is not a CNeRF checkpoint: it has no 'g_ema' generator with "
                              f"'renderer.network.*' weights")
    return from_official_state(state, card, device=device)


def load_safe(path: str | Path, device: str = "cpu") -> CNeRFGenerator:
    """gan3d's safe form (:mod:`gan3d.pretrained`, ``"method": "cnerf"``): folder, config or weights path."""
    form = pretrained.read(path, "cnerf")
    if form is None:
        raise CheckpointError(f"{str(path)!r} is not a CNeRF safe-form checkpoint (a folder with config.json whose "
                              f"'method' is 'cnerf', and weights.pt)")
    card = form.card()
    config = CNeRFConfig.from_dict(form.config, source=str(form.config_path))
    gen = CNeRFGenerator(card, config)
    state = form.state_dict()
    try:
        gen.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{form.weights_path} does not fit its config.json: {str(e).splitlines()[0]}") from None
    return gen.to(device)


def load_checkpoint(path: Path, device: str = "cpu") -> CNeRFGenerator | None:
    """The ``gan3d_load_checkpoint`` hook: None for files of other methods."""
    path = Path(path)
    if pretrained.read(path, "cnerf") is not None:  # the safe form: folder, config.json or its weights.pt
        return load_safe(path, device)
    if path.is_dir() or path.suffix == ".json":
        return None
    if not path.is_file() or path.suffix not in {".pt", ".pth", ".ckpt"}:
        return None
    ours_by_name = path.name == OFFICIAL_FILE or "cnerf" in path.name.lower()
    try:
        data = load_state_dict(path)
    except CheckpointError:
        if ours_by_name:
            raise
        return None  # another method's file (or not a torch file at all): let other plugins try
    state = generator_state(data)
    if state is None:
        if ours_by_name:
            raise CheckpointError(f"{str(path)!r} is not a CNeRF checkpoint: no 'g_ema' generator with "
                                  f"'renderer.network.*' weights")
        return None
    return from_official_state(state, FFHQ512, device=device)


def build_from_files(card: gan3d.ModelCard, files: dict | None, device: str = "cpu") -> CNeRFGenerator:
    """Registry factory: the card's ``final_model.pt`` -> generator; ``files=None``: random weights."""
    if files is None:
        gen = CNeRFGenerator(card, CNeRFConfig()).to(device)
        gen.compute_mean_latents()
        return gen
    return load_official(files[OFFICIAL_FILE], device, card)
