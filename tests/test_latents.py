import numpy as np
import pytest
import torch

import gan3d
from gan3d.latents import Latents


def test_seed_parsing():
    assert gan3d.parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert gan3d.parse_seeds(5) == [5]
    assert gan3d.parse_seeds([2, 1]) == [2, 1]
    for bad in ["", "a", "3-1", "-1", "1,,x", str(2**32)]:
        with pytest.raises(gan3d.InputError):
            gan3d.parse_seeds(bad)


def test_draw_is_the_authors_randomstate_draw():
    lat = gan3d.sample_latents(512, "0,5")
    assert lat.z.shape == (2, 512) and lat.seeds == [0, 5]
    # EG3D's gen_samples.py: np.random.RandomState(seed).randn(1, z_dim)
    ref = np.random.RandomState(5).randn(1, 512)
    assert np.array_equal(lat.z[1].numpy(), ref[0].astype(np.float32))


def test_same_seed_same_z_across_models_of_equal_size():
    spec_a = gan3d.LatentSpec(parts={"z": 512})
    card = gan3d.ModelCard(name="x/y", method="x", dataset="d", resolution=8, latent=spec_a,
                           camera=gan3d.CameraDefaults(radius=1, focal=1))
    assert torch.equal(gan3d.sample_latents(card, 3).z, gan3d.sample_latents(spec_a, 3).z)


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_save_load_round_trip_and_spec_check(tmp_path, suffix):
    lat = gan3d.sample_latents(gan3d.LatentSpec(parts={"z": 8, "noise": 4}), "1-3")
    path = lat.save(tmp_path / f"lat{suffix}")
    back = Latents.load(path, expect=lat.spec)
    assert torch.equal(back.z, lat.z) and back.seeds == [1, 2, 3]
    assert back.part("noise").shape == (3, 4)
    with pytest.raises(gan3d.InputError, match="expects"):
        Latents.load(path, expect=gan3d.LatentSpec(parts={"z": 12}))


def test_bad_latent_files(tmp_path):
    with pytest.raises(gan3d.InputError, match="does not exist"):
        Latents.load(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(gan3d.InputError, match="not a gan3d latent file"):
        Latents.load(junk)
    for name, content in (("bare.pt", torch.zeros(2, 8)), ("nometa.pt", {"z": torch.zeros(2, 8)})):
        torch.save(content, tmp_path / name)
        with pytest.raises(gan3d.InputError, match="not a gan3d latent file .*gan3d.Latents.*save"):
            Latents.load(tmp_path / name)
    with pytest.raises(gan3d.InputError, match=".pt or .npz"):
        gan3d.sample_latents(4, 0).save(tmp_path / "lat.txt")


def test_spec_part_order_matters():
    assert gan3d.LatentSpec(parts={"a": 1, "b": 2}) != gan3d.LatentSpec(parts={"b": 2, "a": 1})
