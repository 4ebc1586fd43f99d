"""All three methods side by side on identical latents and cameras (random full-size weights, offline)."""

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from gan3d.cli.main import main

PLUGINS = ("gan3d_eg3d", "gan3d_liftedgan", "gan3d_cnerf")


@pytest.mark.skipif(any(importlib.util.find_spec(p) is None for p in PLUGINS),
                    reason="needs the EG3D, LiftedGAN and CNeRF plugins installed (make test installs them)")
def test_compare_eg3d_liftedgan_and_cnerf_on_the_same_seed_and_camera(tmp_path, capsys):
    torch.manual_seed(0)
    models = ["eg3d/shapenetcars128-64", "liftedgan/ffhq256", "cnerf/ffhq512"]
    code = main(["compare", *models, "--seeds", "5", "--yaw", "0.3", "--pitch", "0", "--frames", "0",
                 "--tile", "32", "--out", str(tmp_path), "--device", "cpu", "--random-if-missing"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("RANDOM WEIGHTS") == 3  # offline: each model says so loudly
    saved = torch.load(tmp_path / "latents.pt", weights_only=True)
    z = {m["model"]: m["z"] for m in saved["models"]}
    assert torch.equal(z["eg3d/shapenetcars128-64"], z["liftedgan/ffhq256"])  # both z: 512, seed 5
    assert z["cnerf/ffhq512"].shape[1] != 512 and "own draw" in out  # CNeRF's own latent size
    assert saved["cam2world"].shape == (1, 4, 4)  # one camera for every model
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[0] >= 3 * 32
