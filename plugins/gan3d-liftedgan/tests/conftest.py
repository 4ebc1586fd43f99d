"""Shared fixtures of the LiftedGAN plugin's tests: the parity fixture, models built from it, an isolated cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import gan3d
from liftedgan_testutils import FIXTURE, fixture_config, fixture_state_dict
from gan3d.testing import isolated_cache  # noqa: F401  (autouse: a clean, offline cache per test)


def require_fixture() -> Path:
    if not FIXTURE.is_dir():
        pytest.skip(f"parity fixture {FIXTURE} is absent (it lives beside the repository in ../shared)")
    return FIXTURE




@pytest.fixture(scope="session")
def io() -> dict:
    return torch.load(require_fixture() / "io.pt", weights_only=True)


@pytest.fixture(scope="session")
def weights() -> dict:
    return torch.load(require_fixture() / "weights.pt", weights_only=True)


@pytest.fixture(scope="session")
def model(io, weights):
    """The fixture's reduced-width LiftedGAN, loaded strictly, with the fixture's w_mu."""
    from gan3d_liftedgan.cards import FFHQ
    from gan3d_liftedgan.model import LiftedGAN

    card = FFHQ.model_copy(update={"latent": gan3d.LatentSpec(parts={"z": 64})})
    m = LiftedGAN(card, fixture_config())
    m.load_state_dict(fixture_state_dict(weights, io["mapping"]["w_mu"]), strict=True)
    return m.eval().requires_grad_(False)


@pytest.fixture(scope="session")
def safe_folder(tmp_path_factory, model) -> Path:
    """The fixture model in gan3d's safe form (config.json + weights.pt)."""
    return model.save_pretrained(tmp_path_factory.mktemp("liftedgan_safe"))


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread, as the fixture was made; it also keeps the tests fast on shared cores, where
    OpenMP threads that lose their core spin-wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
