"""The gan3d hooks of the LiftedGAN plugin (entry point ``liftedgan``)."""

from __future__ import annotations

from pathlib import Path

import gan3d
from gan3d.zoo import packaged_models

from .cards import CARDS, CHECKPOINT_FILE, CONFIG_FILE


def _w_mu_record(card: gan3d.ModelCard, stylegan: Path) -> tuple[Path, dict]:
    """Where the truncation mean of ``card`` is remembered, and the key of the StyleGAN2 file it came from."""
    from gan3d import cache

    st = stylegan.stat()
    return cache.weights_dir(card) / "w_mu.pt", {"file": str(stylegan.resolve()), "size": st.st_size,
                                                  "mtime_ns": st.st_mtime_ns, "seed": 0, "n": 50_000}


def _build(card: gan3d.ModelCard, files: dict[str, Path] | None, device: str):
    """A registered model from its cached files: StyleGAN2 .pt, checkpoint.pth and config.py.

    ``files=None`` builds the official architecture with random weights (truncation mean from seed 0).

    The truncation mean (50,000 samples, seed 0) is computed on first use and remembered in the cache
    next to the weights, keyed by the StyleGAN2 file, so later loads are fast and identical.
    """
    import torch

    from gan3d.io import atomic_write

    from .checkpoints import load_official
    from .model import LiftedGAN

    if files is None:
        G = LiftedGAN(card).to(device)
        G.compute_w_mu()
        return G
    stylegan = next(p for name, p in files.items() if name not in (CHECKPOINT_FILE, CONFIG_FILE))
    record, key = _w_mu_record(card, stylegan)
    w_mu = None
    if record.is_file():
        try:
            saved = torch.load(record, map_location="cpu", weights_only=True)
            if saved.get("key") == key:
                w_mu = saved["w_mu"]
        except Exception:  # noqa: BLE001 - a broken record is just recomputed
            w_mu = None
    G = load_official(files[CHECKPOINT_FILE], device, generator_path=stylegan, card=card,
                      config_path=files[CONFIG_FILE], w_mu=w_mu)
    if w_mu is None:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(record) as tmp:
                torch.save({"key": key, "w_mu": G.w_mu.detach().cpu()}, tmp)
        except OSError:  # read-only cache: recompute next time
            pass
    return G


@gan3d.hookimpl
def gan3d_register_models():
    # the official cards, and the trained models this package ships in zoo/ (gan3d weights pack)
    return [gan3d.ModelEntry(card, _build) for card in CARDS] + packaged_models("gan3d_liftedgan")


@gan3d.hookimpl
def gan3d_load_checkpoint(path, device):
    from .checkpoints import recognise

    return recognise(Path(path), device)


@gan3d.hookimpl
def gan3d_method_commands():
    from .cli import method_commands

    return method_commands()


@gan3d.hookimpl
def gan3d_register_trainers():
    from .train import ENTRY

    return [ENTRY]
