"""Cards, the checkpoint hook (official file, safe form, other files) and strict loading errors."""

from __future__ import annotations

import torch
import pytest

import gan3d
from gan3d.errors import CheckpointError
from gan3d_cnerf.cards import FFHQ512
from gan3d_cnerf.checkpoint import load_checkpoint
from gan3d_cnerf.generator import CNeRFGenerator


def test_the_card_is_registered_with_licence_citation_and_source():
    assert "cnerf/ffhq512" in gan3d.list_models()
    card = gan3d.model_card("cnerf/ffhq512")
    assert card.latent.dim == 256 and card.resolution == 512 and card.camera.radius == 1.0
    assert card.license.startswith("CC BY-NC-SA 4.0")
    assert card.citation.arxiv == "2302.01579" and "Compositional Neural Radiance Field" in card.citation.title
    (wf,) = card.weights
    assert wf.filename == "final_model.pt" and "drive.google.com" in wf.note


def test_missing_weights_name_the_file_and_the_add_command():
    with pytest.raises(gan3d.WeightsNotFoundError) as e:
        gan3d.load("cnerf/ffhq512")
    assert "final_model.pt" in str(e.value) and "gan3d weights add" in str(e.value)


def test_safe_form_round_trip_keeps_weights_and_mean_latents(small_generator, tmp_path):
    folder = small_generator.save_pretrained(tmp_path / "m")
    G = gan3d.load(str(folder))
    assert isinstance(G, CNeRFGenerator) and G.config == small_generator.config
    for k, v in small_generator.state_dict().items():
        assert torch.equal(G.state_dict()[k], v), k
    assert int(G.mean_latent_count) == 1024  # computed from the fixture's 1024 z, stored, not recomputed
    G2 = gan3d.load(str(folder / "weights.pt"))  # the weights file of the pair works as well
    assert isinstance(G2, CNeRFGenerator) and torch.equal(G2.mean_latent_count, G.mean_latent_count)


def test_official_format_file_loads_strictly_through_the_hook(tmp_path):
    torch.manual_seed(0)
    ref = CNeRFGenerator(FFHQ512)
    state = ref.official_keys()
    sd = {k: v for k, v in ref.state_dict().items() if k in state}
    torch.save({"g_ema": sd, "g": {}, "d": {}}, tmp_path / "final_model.pt")
    G = gan3d.load(str(tmp_path / "final_model.pt"))
    assert isinstance(G, CNeRFGenerator) and G.config.size == 512
    assert torch.equal(G.decoder.to_seg1.bias, ref.decoder.to_seg1.bias)
    assert int(G.mean_latent_count) == 10_000  # computed once, from the fixed seed
    # the same seed gives the same mean on every load
    G2 = load_checkpoint(tmp_path / "final_model.pt")
    assert torch.equal(G.mean_latent_renderer, G2.mean_latent_renderer)


def test_wrong_sizes_and_twelve_class_checkpoints_are_clear_errors(tmp_path, cnerf_fixture_dir):
    sd = torch.load(cnerf_fixture_dir / "weights.pt", map_location="cpu", weights_only=True)
    torch.save({"g_ema": sd}, tmp_path / "final_model.pt")
    with pytest.raises(CheckpointError, match="of another shape"):
        load_checkpoint(tmp_path / "final_model.pt")
    twelve = dict(sd)
    for k in [k for k in sd if k.startswith("renderer.network.0.")]:
        for c in (9, 10, 11):
            twelve[k.replace("network.0.", f"network.{c}.")] = sd[k]
    torch.save({"g_ema": twelve}, tmp_path / "student.pt")
    with pytest.raises(CheckpointError, match="12 semantic classes"):
        gan3d.load(str(tmp_path / "student.pt"))


def test_other_files_are_left_to_other_plugins_or_refused_clearly(tmp_path):
    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    assert load_checkpoint(tmp_path / "other.pt") is None
    (tmp_path / "config.json").write_text('{"method": "eg3d"}')
    assert load_checkpoint(tmp_path) is None
    torch.save({"g_ema": {"style.0.weight": torch.zeros(2)}}, tmp_path / "final_model.pt")
    with pytest.raises(CheckpointError, match="not a CNeRF checkpoint"):
        load_checkpoint(tmp_path / "final_model.pt")
    # a pickle that would run code is refused without running it
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "cnerf_evil.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "cnerf_evil.pt")



def test_random_weights_build_the_official_full_size_architecture():
    import math

    import gan3d

    G = gan3d.load("cnerf/ffhq512", weights="random")
    assert G.weights_note == "random weights" and int(G.mean_latent_count) > 0  # means computed once
    keys = G.official_keys()  # the official g_ema layout: 489 tensors, 11,819,992 numbers
    assert len(keys) == 489 and sum(math.prod(v) for v in keys.values()) == 11_819_992
