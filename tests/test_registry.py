"""Plugin discovery, the registry and gan3d.load, proven with the toy plugin in tests/toy_plugin."""

import importlib.metadata

import pytest
import torch

import gan3d
from gan3d import registry


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry.reset()
    yield
    registry.reset()


def test_toy_plugin_is_found_through_its_entry_point():
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="gan3d")}
    assert eps.get("toy") == "gan3d_toy.plugin", "install tests/toy_plugin (make test does)"
    assert "toy/sphere" in gan3d.list_models()
    assert gan3d.list_models("toy/*") == ["toy/sphere", "toy/sphere16"]
    card = gan3d.model_card("toy/sphere")
    assert card.method == "toy" and card.latent.dim == 8


def test_unknown_model_suggests_close_names():
    with pytest.raises(gan3d.UnknownModelError, match="did you mean 'toy/sphere'"):
        gan3d.model_card("toy/spere")
    with pytest.raises(gan3d.UnknownModelError, match="gan3d models"):
        gan3d.load("nothing/like-it")


def test_a_broken_plugin_warns_and_the_rest_keeps_working(monkeypatch):
    real = importlib.metadata.entry_points

    def fake(group=None, **kw):
        eps = list(real(group=group))
        eps.append(importlib.metadata.EntryPoint("broken", "gan3d_no_such_module_xyz", "gan3d"))
        return eps

    monkeypatch.setattr(registry.importlib.metadata, "entry_points", fake)
    with pytest.warns(RuntimeWarning, match="'broken'.*ModuleNotFoundError"):
        names = gan3d.list_models()
    assert "toy/sphere" in names
    assert "broken" in registry.failed_plugins()


def test_misspelled_hook_implementation_is_reported():
    class Plugin:
        @gan3d.hookimpl
        def gan3d_register_model(self):  # missing "s"
            return []

    with pytest.warns(RuntimeWarning, match="matches no gan3d hook"):
        registry.register(Plugin(), name="typo")


def test_load_by_name_gives_an_eval_generator_and_checks_inputs():
    G = gan3d.load("toy/sphere")
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    lat = gan3d.sample_latents(G, "0-1")
    out = G.set_deterministic()(lat.z, gan3d.Camera.orbit([0.2, -0.2], 0.0))
    assert out.image.shape == (2, 3, 64, 64) and out.depth.shape == (2, 1, 64, 64)
    assert out.image.min() >= -1.0001 and out.image.max() <= 1.0001
    again = G(lat.z, gan3d.Camera.orbit([0.2, -0.2], 0.0))
    assert torch.equal(out.image, again.image)  # deterministic mode repeats exactly
    with pytest.raises(gan3d.InputError, match=r"z must have shape \[B, 8\]"):
        G(torch.zeros(2, 7))
    with pytest.raises(gan3d.InputError, match="truncation_psi"):
        G.mapping(lat.z, None, truncation_psi=float("nan"))
    with pytest.warns(UserWarning, match="outside that range"):
        G(lat.z[:1], gan3d.Camera.orbit(3.0, 0.0))


def test_stochastic_mode_differs_but_stays_close():
    G = gan3d.load("toy/sphere")
    z = gan3d.sample_latents(G, 0).z
    a, b = G(z).image, G(z).image
    assert not torch.equal(a, b) and (a - b).abs().mean() < 0.05


def test_save_pretrained_round_trip_through_the_load_hook(tmp_path):
    G = gan3d.load("toy/sphere")
    G.save_pretrained(tmp_path / "toy")
    H = gan3d.load(tmp_path / "toy")
    assert type(H) is type(G) and H.card == G.card
    with pytest.raises(gan3d.CheckpointError, match="no installed plugin recognises"):
        (tmp_path / "other.pkl").write_bytes(b"\x80\x04N.")
        gan3d.load(tmp_path / "other.pkl")
    with pytest.raises(gan3d.CheckpointError, match="does not exist"):
        gan3d.load(tmp_path / "missing.pkl")


def test_random_weights_are_the_same_network_on_every_load():
    """A demo's grid and its scores, the ranks of a sharded run and a resumed run all see one network."""
    torch.manual_seed(123)
    a = gan3d.load("eg3d/shapenetcars128-64", weights="random")
    after = torch.rand(3)
    b = gan3d.load("eg3d/shapenetcars128-64", weights="random")
    assert a.weights_note == "random weights"
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    other = gan3d.load("eg3d/ffhq512-128", weights="random").state_dict()
    k = "backbone.mapping.fc0.weight"
    assert k in sa and not torch.equal(sa[k], other[k])  # another name, another draw
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)  # the caller's RNG stream is untouched by the load
