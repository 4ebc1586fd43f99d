"""One way to turn seeds into latents, and to save and reload them.

``sample_latents(model, seeds)`` draws ``numpy.random.RandomState(seed).randn(dim)`` for every seed,
the draw in the authors' generation scripts, so seed 5 in gan3d is seed 5 in EG3D's ``gen_samples.py``
and two models with the same latent size receive the same z for the same seed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cards import LatentSpec, ModelCard
from .errors import InputError

_MAX_SEED = 2**32 - 1  # RandomState accepts 0 .. 2**32-1


def parse_seeds(spec: str | int | list[int] | tuple[int, ...]) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``; ints and lists pass through (validated)."""
    if isinstance(spec, int):
        seeds = [spec]
    elif isinstance(spec, (list, tuple, range)):
        seeds = [int(s) for s in spec]
    else:
        seeds = []
        text = str(spec).replace(" ", "")
        if not text:
            raise InputError("empty seed list; give seeds like '0-3,7'")
        for part in text.split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise InputError(f"bad seed spec {part!r} in {spec!r}; use non-negative integers and ranges like '0-3,7'")
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            if hi < lo:
                raise InputError(f"bad seed range {part!r}: the end is smaller than the start")
            if hi - lo > 10_000_000:
                raise InputError(f"seed range {part!r} is too large")
            seeds.extend(range(lo, hi + 1))
    for s in seeds:
        if not 0 <= s <= _MAX_SEED:
            raise InputError(f"seed {s} is out of range; seeds are integers in [0, {_MAX_SEED}]")
    return seeds


def _spec_of(model_or_spec) -> LatentSpec:
    if isinstance(model_or_spec, LatentSpec):
        return model_or_spec
    if isinstance(model_or_spec, ModelCard):
        return model_or_spec.latent
    if isinstance(model_or_spec, int):
        return LatentSpec(parts={"z": model_or_spec})
    card = getattr(model_or_spec, "card", None)
    if isinstance(card, ModelCard):
        return card.latent
    if isinstance(model_or_spec, str):
        from .registry import model_card

        return model_card(model_or_spec).latent
    raise InputError(f"cannot find a latent spec in {type(model_or_spec).__name__}; pass a model, card, LatentSpec or size")


@dataclass
class Latents:
    """A batch of latents with the seeds and spec they came from.

    z: ``[N, spec.dim]`` float32; ``seeds``: one per row (``None`` for latents that came from elsewhere).
    """

    z: torch.Tensor
    spec: LatentSpec
    seeds: list[int] | None = None

    def __len__(self) -> int:
        return self.z.shape[0]

    def part(self, name: str) -> torch.Tensor:
        """One named part ``[N, size]``."""
        start = 0
        for k, n in self.spec.parts.items():
            if k == name:
                return self.z[:, start:start + n]
            start += n
        raise InputError(f"latent spec has no part {name!r}; parts are {list(self.spec.parts)}")

    def to(self, device) -> "Latents":
        return Latents(self.z.to(device), self.spec, self.seeds)

    def check(self, model_or_spec) -> "Latents":
        """Raise a clear error unless these latents fit ``model_or_spec``; return self."""
        want = _spec_of(model_or_spec)
        if want != self.spec:
            raise InputError(
                f"these latents were made for spec ({self.spec.describe()}) but the model expects "
                f"({want.describe()}); use --seeds instead (or gan3d.sample_latents(model, seeds) in Python)"
            )
        return self

    # ---------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write to ``.pt`` (torch, weights-only loadable) or ``.npz``, atomically."""
        from .io import atomic_write

        path = Path(path)
        meta = json.dumps({"spec": self.spec.model_dump(), "seeds": self.seeds})
        if path.suffix == ".npz":
            with atomic_write(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, z=self.z.cpu().numpy(), meta=np.array(meta))
        elif path.suffix == ".pt":
            with atomic_write(path) as tmp:
                torch.save({"z": self.z.cpu(), "meta": meta}, tmp)
        else:
            raise InputError(f"latent files end in .pt or .npz, got {path.name!r}")
        return path

    @classmethod
    def load(cls, path: str | Path, expect=None) -> "Latents":
        """Read a file written by :meth:`save` or by ``gan3d compare`` (its ``latents.pt``).

        ``expect`` (model, card or spec) is checked if given; from a comparison file it picks the
        latents of the first compared model with that spec (without it, the first model's).
        """
        found = cls.load_all(path)
        if expect is None:
            return found[0]
        want = _spec_of(expect)
        for lat in found:
            if lat.spec == want:
                return lat
        return found[0].check(want)  # raises, naming both specs

    @classmethod
    def load_all(cls, path: str | Path) -> list["Latents"]:
        """Every latent batch in a file: one for a :meth:`save` file, one per model for ``gan3d compare``'s."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"latent file {str(path)!r} does not exist")
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    records = [(torch.from_numpy(data["z"]), str(data["meta"]))]
            elif path.suffix == ".pt":
                data = torch.load(path, map_location="cpu", weights_only=True)
                if isinstance(data, dict) and isinstance(data.get("models"), list) and data["models"]:
                    # a comparison: what each model received, with its spec and seeds
                    records = [(m["z"], json.dumps({"spec": {"parts": m["spec"]}, "seeds": m.get("seeds")}))
                               for m in data["models"]]
                elif isinstance(data, dict) and isinstance(data.get("z"), torch.Tensor) and "meta" in data:
                    records = [(data["z"], data["meta"])]
                else:
                    raise ValueError("it holds neither a 'z' tensor with a 'meta' record nor a comparison's 'models'")
            else:
                raise InputError(f"latent files end in .pt or .npz, got {path.name!r}")
            parsed = []
            for z, meta in records:
                if not isinstance(z, torch.Tensor):
                    raise ValueError("its latents are not a tensor")
                meta = json.loads(meta)
                parsed.append((z, LatentSpec(**meta["spec"]), meta.get("seeds")))
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - any parse failure is a bad file
            raise InputError(f"{str(path)!r} is not a gan3d latent file ({str(e).splitlines()[0] or type(e).__name__}); "
                             f"use a latents.pt that `gan3d compare` writes, or write one with "
                             f"gan3d.Latents(z, spec, seeds).save(path)") from None
        out = []
        for z, spec, seeds in parsed:
            if z.ndim != 2 or z.shape[1] != spec.dim:
                raise InputError(f"{str(path)!r}: latents of shape {list(z.shape)} do not fit spec ({spec.describe()})")
            if not torch.isfinite(z).all():
                raise InputError(f"{str(path)!r} holds NaN or infinite latents")
            if seeds is not None and (not isinstance(seeds, list) or len(seeds) != z.shape[0]
                                      or not all(isinstance(s, int) and s >= 0 for s in seeds)):
                raise InputError(f"{str(path)!r}: its seed list does not match its {z.shape[0]} latents")
            out.append(cls(z.float(), spec, seeds))
        return out


def sample_latents(model_or_spec, seeds) -> Latents:
    """Latents for ``seeds`` (``"0-3,7"``, an int or a list): ``RandomState(seed).randn(dim)`` per seed.

    ``model_or_spec`` is a generator, model card, model name, :class:`LatentSpec` or a plain size.
    """
    spec = _spec_of(model_or_spec)
    seeds = parse_seeds(seeds)
    z = np.stack([np.random.RandomState(s).randn(spec.dim) for s in seeds]) if seeds else np.zeros((0, spec.dim))
    return Latents(torch.from_numpy(z).float(), spec, seeds)
