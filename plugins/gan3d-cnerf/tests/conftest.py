"""Fixtures of the CNeRF plugin's tests: the official parity fixture (../shared) and a clean cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from gan3d.testing import isolated_cache  # noqa: F401  (autouse: a clean, offline cache per test)

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO.parent / "shared" / "fixtures" / "cnerf"


def fixture_path() -> Path:
    """``<repo>/../shared/fixtures/cnerf``, or skip (a fresh clone has no ../shared)."""
    if not (FIXTURE / "io.pt").is_file():
        pytest.skip(f"CNeRF parity fixture {FIXTURE} is absent (it lives beside the repository in "
                    f"../shared and was made by running the official code; a fresh clone has none)")
    return FIXTURE


@pytest.fixture
def cnerf_fixture_dir() -> Path:
    """The fixture folder (skips when absent)."""
    return fixture_path()




@pytest.fixture(scope="session")
def official_io() -> dict:
    """``io.pt``: ``{"inputs": ..., "outputs": ...}`` of the official code."""
    return torch.load(fixture_path() / "io.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="session")
def small_generator(official_io):
    """The fixture's reduced CNeRF with the official weights (strict) and the fixture's mean latents."""
    from gan3d_cnerf.cards import card_for_config
    from gan3d_cnerf.config import CNeRFConfig
    from gan3d_cnerf.generator import CNeRFGenerator

    path = fixture_path()
    config = CNeRFConfig.from_official_options(json.loads((path / "config.json").read_text()),
                                               source=str(path / "config.json"))
    G = CNeRFGenerator(card_for_config(config, "cnerf/fixture"), config)
    G.load_official_state_dict(torch.load(path / "weights.pt", map_location="cpu", weights_only=True),
                               compute_means=False)
    G.compute_mean_latents(z=official_io["inputs"]["mean_latent_z"])
    return G.eval().requires_grad_(False)


@pytest.fixture(scope="session")
def fixture_cameras(official_io):
    """The fixture's two cameras as a gan3d.Camera."""
    from gan3d_cnerf.camera import camera_from_angles

    ae = official_io["inputs"]["cam_locations_azim_elev"]
    return camera_from_angles(ae[:, 0], ae[:, 1])


@pytest.fixture(scope="session")
def fixture_model_dir(small_generator, tmp_path_factory) -> Path:
    """The fixture weights in gan3d's safe form, with 8 samples per ray so command tests stay fast."""
    from gan3d_cnerf.generator import CNeRFGenerator

    G = CNeRFGenerator(small_generator.card, small_generator.config.replace(num_samples=8))
    G.load_state_dict(small_generator.state_dict(), strict=True)
    return G.save_pretrained(tmp_path_factory.mktemp("cnerf_fixture_model"))


@pytest.fixture(scope="session")
def synth_heads(tmp_path_factory) -> Path:
    """Six heads of the synthetic world at 64 px (images, camera labels, true masks) as an EG3D zip."""
    from gan3d.data.synth import write_dataset

    return write_dataset(tmp_path_factory.mktemp("cnerf_heads") / "heads.zip", 6, 64, seed=0, progress=False)

