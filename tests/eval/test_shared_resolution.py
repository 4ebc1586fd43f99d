"""The shared evaluation resolution: every model scored at one image size, recorded in the protocol."""

from __future__ import annotations

import pytest
import torch

from gan3d.eval import Evaluator, HarnessConfig, MetricResult, evaluate
from gan3d.eval.protocol import Protocol
from gan3d.images import resize_images
from gan3d.runs import RunConfig


class SizeRecorder(Evaluator):
    """Scores the mean image brightness and remembers the image sizes it was given."""

    name = "size"

    def requests(self, ctx):
        self.request = ctx.request(2)
        return [self.request]

    def begin(self, ctx):
        self.sizes, self.sums = set(), []

    def update(self, request, batch):
        self.sizes.add(tuple(batch.images.shape[-2:]))
        self.sums.append(batch.images.mean(dim=(1, 2, 3)))

    def finalize(self, ctx):
        v = torch.cat(self.sums)
        return [MetricResult(name="size", value=float(v.mean()), n=len(v), protocol=ctx.protocol("size", self.request))]


def _toy(resolution: int):
    from gan3d_toy.plugin import CARD, ToySphere

    return ToySphere(CARD.model_copy(update={"resolution": resolution, "name": f"toy/sphere{resolution}px"}))


def _run(G, resolution):
    ev = SizeRecorder()
    cfg = HarnessConfig(num=2, batch_size=2, progress=False, resolution=resolution, rendering="deterministic")
    (result,) = evaluate(G, [ev], cfg).results
    return ev, result


def test_models_of_different_sizes_share_a_protocol_at_one_resolution():
    native = [_run(_toy(r), None) for r in (64, 48)]
    assert [ev.sizes for ev, _ in native] == [{(64, 64)}, {(48, 48)}]
    assert native[0][1].protocol.resolution == 64 and native[0][1].protocol.image_resize == ""
    assert native[0][1].protocol_hash != native[1][1].protocol_hash  # never ranked together

    shared = [_run(_toy(r), 32) for r in (64, 48)]
    assert [ev.sizes for ev, _ in shared] == [{(32, 32)}, {(32, 32)}]
    p = shared[0][1].protocol
    assert p.resolution == 32 and p.image_resize == "bilinear-antialias"
    assert shared[0][1].protocol_hash == shared[1][1].protocol_hash  # one column for both
    assert shared[0][1].protocol_hash != native[0][1].protocol_hash
    # the resize keeps what the images show (mean brightness within a few percent)
    assert shared[0][1].value == pytest.approx(native[0][1].value, abs=0.03)


def test_native_protocol_hashes_are_unchanged():
    p = Protocol(metric="fid", num_samples=10, seeds="0-9", resolution=512)
    assert "image_resize" not in p.canonical_json()
    assert Protocol(metric="fid", num_samples=10, seeds="0-9", resolution=256,
                    image_resize="bilinear-antialias").hash() != p.hash()


def test_resize_images_and_run_config():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert resize_images(x, 64) is x
    y = resize_images(x, 16)
    assert y.shape == (2, 3, 16, 16) and y.dtype == x.dtype
    assert torch.allclose(y.mean((2, 3)), x.mean((2, 3)), atol=1e-2)
    base = dict(models=["toy/sphere"], metrics=["lpips_diversity"])
    assert RunConfig(**base).run_id() == RunConfig(**base, resolution=None).run_id()
    assert RunConfig(**base, resolution=256).run_id() != RunConfig(**base).run_id()
    with pytest.raises(ValueError, match="resolution"):
        RunConfig(**base, resolution=4)


def test_evaluate_cli_resolution_flag(capsys):
    from gan3d.cli.main import main

    assert main(["evaluate", "toy/sphere", "--metrics", "lpips_diversity", "--resolution", "2"]) == 2
    assert "--resolution" in capsys.readouterr().err


def test_demo_scores_every_model_at_one_resolution(tmp_path):
    import json
    import sqlite3

    from gan3d.cli.main import main

    assert main(["demo", "--models", "toy/sphere,toy/sphere16", "--seeds", "0", "--yaw", "0", "--num", "2",
                 "--metrics", "pose", "--resolution", "96", "--out", str(tmp_path)]) == 0
    rows = sqlite3.connect(tmp_path / "results.sqlite").execute(
        "SELECT model, protocol_hash, protocol_json FROM results WHERE metric = 'pose_yaw_error'").fetchall()
    assert {r[0] for r in rows} == {"toy/sphere", "toy/sphere16"} and len({r[1] for r in rows}) == 1
    proto = json.loads(rows[0][2])
    assert proto["resolution"] == 96 and proto["image_resize"] == "bilinear-antialias"
