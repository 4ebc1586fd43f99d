"""Protocols, camera distributions and the harness (sample sharing, prefixes, seeds)."""

import json
import math

import numpy as np
import pytest
import torch
from eval_helpers import CARD, PhotoGenerator

import gan3d
from gan3d.errors import InputError
from gan3d.eval import (DatasetCameras, Evaluator, FixedCameras, GaussianCameras, HarnessConfig, MetricResult,
                        Protocol, UniformCameras, camera_distribution, evaluate)


def test_protocol_hash_is_stable_and_sensitive():
    p = Protocol(metric="fid", num_samples=10, seeds="0-9", cameras={"kind": "gaussian"})
    assert p.hash() == Protocol(**json.loads(p.canonical_json())).hash()
    assert len(p.hash()) == 16
    for change in ({"num_samples": 11}, {"truncation_psi": 0.7}, {"backbone_sha256": "ab"}, {"seeds": "1-10"}):
        assert p.model_copy(update=change).hash() != p.hash(), change
    with pytest.raises(Exception):
        p.num_samples = 3  # frozen


def test_metric_result_carries_and_checks_the_protocol_hash():
    p = Protocol(metric="id", num_samples=5, seeds="0-4")
    r = MetricResult(name="id", value=0.5, n=5, protocol=p)
    assert r.protocol_hash == p.hash()
    assert r.comparable(MetricResult(name="id", value=0.7, n=5, protocol=p))
    assert not r.comparable(MetricResult(name="id", value=0.7, n=5, protocol=p.model_copy(update={"seeds": "5-9"})))
    with pytest.raises(ValueError):
        MetricResult(name="id", value=0.5, n=5, protocol=p, protocol_hash="0" * 16)
    assert MetricResult.model_validate_json(r.model_dump_json()) == r


def test_camera_draws_are_per_sample_and_reproducible():
    d = GaussianCameras()
    y1, p1 = d.yaw_pitch(np.arange(100), seed=3)
    y2, p2 = d.yaw_pitch(np.arange(40, 60), seed=3)
    assert np.array_equal(y1[40:60], y2) and np.array_equal(p1[40:60], p2)  # independent of batching
    assert not np.allclose(d.yaw_pitch(np.arange(100), seed=4)[0], y1)
    big = np.arange(20000)
    yaw, pitch = d.yaw_pitch(big, seed=0)
    assert abs(yaw.std() - 0.3) < 0.01 and abs(pitch.std() - 0.155) < 0.005 and abs(yaw.mean()) < 0.01
    u = UniformCameras(yaw=(-0.2, 0.4), pitch=(0.0, 0.1)).yaw_pitch(big, 0)
    assert u[0].min() >= -0.2 and u[0].max() <= 0.4 and u[1].min() >= 0 and u[1].max() <= 0.1
    f = FixedCameras(poses=((0.1, 0.0), (0.2, -0.1)))
    assert f.yaw_pitch(np.arange(4), 0)[0].tolist() == [0.1, 0.2, 0.1, 0.2]
    cam, yaw, pitch = d.sample(np.arange(5), 0, CARD.camera)
    ry, rp = cam.yaw_pitch()
    assert torch.allclose(ry, yaw, atol=1e-5) and torch.allclose(rp, pitch, atol=1e-5)


def test_dataset_cameras_read_eg3d_labels_from_json_and_zip(tmp_path):
    import zipfile

    cams = gan3d.Camera.orbit([0.3, -0.2, 0.0], [0.1, 0.0, -0.1], radius=2.7)
    labels = [[f"img{i:08d}.png", row] for i, row in enumerate(cams.to_eg3d_label().tolist())]
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": labels}))
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as zf:
        zf.write(tmp_path / "dataset.json", "dataset.json")
    a = camera_distribution("dataset", dataset=tmp_path / "dataset.json")
    b = camera_distribution("dataset", dataset=tmp_path / "data.zip")
    assert isinstance(a, DatasetCameras) and a.sha256 == b.sha256 and a.count == 3
    assert "path" not in a.describe()  # local paths never enter a protocol
    cam, yaw, pitch = a.sample(np.arange(50), 0, CARD.camera)
    got = {round(float(v), 4) for v in yaw}
    assert got == {0.3, -0.2, 0.0}
    (tmp_path / "bad.json").write_text(json.dumps({"labels": [["a.png", [1, 2, 3]]]}))
    with pytest.raises(InputError, match="25 numbers"):
        camera_distribution("dataset", dataset=tmp_path / "bad.json")
    with pytest.raises(InputError, match="needs the dataset"):
        camera_distribution("dataset")
    with pytest.raises(InputError, match="unknown camera distribution"):
        camera_distribution("spiral")


class Recorder(Evaluator):
    """Remembers what it was fed."""

    def __init__(self, name, num=None, views=1, cameras=None, conditioning="frontal"):
        self.name, self.num, self.views, self.cameras, self.conditioning = name, num, views, cameras, conditioning

    def requests(self, ctx):
        self.request = ctx.request(self.num, self.views, self.cameras, self.conditioning)
        return [self.request]

    def begin(self, ctx):
        self.batches = []

    def update(self, request, batch):
        self.batches.append(batch)

    def finalize(self, ctx):
        n = sum(len(b) for b in self.batches)
        return [MetricResult(name=self.name, value=float(n), n=n, protocol=ctx.protocol(self.name, self.request))]


def test_harness_renders_shared_samples_once_and_streams_prefixes(faces192):
    G = PhotoGenerator(faces192, lambda z, yaw: "astronaut", shade=0.3)
    a, b = Recorder("a", num=10), Recorder("b", num=4)
    pairs = Recorder("pairs", num=3, views=2)
    sweep = Recorder("sweep", num=2, views=3, cameras=FixedCameras(poses=((-0.3, 0.0), (0.0, 0.0), (0.3, 0.0))))
    report = evaluate(G, [a, b, pairs, sweep], HarnessConfig(num=7, seed=5, batch_size=4, device="cpu", progress=False))
    # a and b share one request: 10 images rendered once, plus 3*2 pair views and 2*3 sweep frames
    assert report.images == 10 + 6 + 6
    assert [r.value for r in report.results] == [10, 4, 6, 6]
    seeds_a = torch.cat([x.seeds for x in a.batches])
    seeds_b = torch.cat([x.seeds for x in b.batches])
    assert seeds_a.tolist() == list(range(5, 15)) and seeds_b.tolist() == list(range(5, 9))
    z = torch.cat([x.z for x in a.batches])
    assert torch.equal(z, gan3d.sample_latents(G, "5-14").z)
    assert torch.equal(torch.cat([x.images for x in b.batches]), torch.cat([x.images for x in a.batches])[:4])
    # every view of a latent lands in one batch, in latent-major order
    for batch in pairs.batches:
        assert batch.view.tolist() == [0, 1] * (len(batch) // 2)
        assert torch.equal(batch.z[0::2], batch.z[1::2])
    for batch in sweep.batches:
        assert torch.allclose(batch.yaw, torch.tensor([-0.3, 0.0, 0.3] * (len(batch) // 3)))
    yaws = torch.cat([x.yaw for x in pairs.batches])
    assert len(set(yaws.tolist())) == 6  # two independent random views per latent
    r = report.results[0]
    assert r.model == "test/photo" and r.protocol.seeds == "5-14" and r.protocol.resolution == 192
    assert r.protocol.camera_seed == 0 and report.results[3].protocol.camera_seed is None  # fixed poses: no seed


class NoisyGenerator(gan3d.Generator):
    """Images from z plus torch-RNG noise (like EG3D's ray jitter) unless deterministic."""

    def __init__(self):
        super().__init__(CARD.model_copy(update={"resolution": 4}))

    def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
        return self.check_latents(z)[:, None]

    def synthesize(self, w, camera, **kwargs):
        base = torch.tanh(w[:, 0, :3])[:, :, None, None].expand(-1, 3, 4, 4)
        noise = 0 if self.deterministic else 0.1 * torch.rand(w.shape[0], 1, 4, 4)
        return gan3d.GeneratorOutput(image=base + noise)


def _images(rec):
    return torch.cat([b.images for b in rec.batches])


def test_random_rendering_depends_on_seed_and_batch_size_only():
    cfg = HarnessConfig(num=5, batch_size=4, device="cpu", progress=False)
    solo = Recorder("a")
    r_solo = evaluate(NoisyGenerator(), [solo], cfg).results[0]
    # the same request in a pass shared with a larger one and after another group: same draws
    shared, bigger, pairs = Recorder("a"), Recorder("b", num=9), Recorder("p", num=3, views=2)
    evaluate(NoisyGenerator(), [pairs, bigger, shared], cfg)
    assert torch.equal(_images(solo), _images(shared)) and len(_images(solo)) == 5
    assert torch.equal(_images(bigger)[:5], _images(solo))
    # another batch size gives other (equally valid) draws, and the result says which it used
    other = Recorder("a")
    r_other = evaluate(NoisyGenerator(), [other], cfg.model_copy(update={"batch_size": 2})).results[0]
    assert not torch.equal(_images(other), _images(solo))
    assert r_solo.details["batch_size"] == 4 and r_other.details["batch_size"] == 2
    assert r_solo.protocol_hash == r_other.protocol_hash  # comparable numbers, other random draws


def test_random_draws_follow_the_protocol_not_local_paths(tmp_path):
    """The same labels read from two folders: same protocol hash, same images."""
    cams = gan3d.Camera.orbit([0.3, -0.2], [0.1, 0.0], radius=2.7)
    labels = [[f"img{i}.png", row] for i, row in enumerate(cams.to_eg3d_label().tolist())]
    runs = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "dataset.json").write_text(json.dumps({"labels": labels}))
        rec = Recorder("r")
        cfg = HarnessConfig(num=3, batch_size=2, device="cpu", progress=False,
                            cameras=camera_distribution("dataset", dataset=tmp_path / folder))
        runs.append((evaluate(NoisyGenerator(), [rec], cfg).results[0].protocol_hash, _images(rec)))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


def test_a_second_model_renders_like_the_first(monkeypatch):
    """lpips_pair's other model: the run's rendering mode, and random draws from the seeded stream."""
    from gan3d.eval.lpips import LpipsPairEvaluator

    class L1:  # stands in for the LPIPS network (no backbone download): mean absolute difference
        name, sha256 = "l1", None

        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, x, y):
            return (x - y).abs().mean((1, 2, 3))

    monkeypatch.setattr("gan3d.eval.lpips.LpipsNet", L1)
    cfg = HarnessConfig(num=3, batch_size=2, device="cpu", progress=False)
    G, other = NoisyGenerator(), NoisyGenerator()
    values = [evaluate(G, [LpipsPairEvaluator(other=other)], cfg).results[0].value for _ in range(2)]
    assert values[0] == values[1] and values[0] > 0  # seeded: the same draws each time, not the same as G's
    seen = []
    other.synthesize = (lambda f: (lambda w, cam, **kw: (seen.append(other.deterministic), f(w, cam))[1]))(
        other.synthesize)
    det = evaluate(G, [LpipsPairEvaluator(other=other)], cfg.model_copy(update={"rendering": "deterministic"}))
    assert seen and all(seen) and other.deterministic is False and det.results[0].value == 0.0


def test_the_generators_own_setting_rules_when_the_config_names_none():
    G = NoisyGenerator().set_deterministic(True)
    r = evaluate(G, [Recorder("a", num=2)], HarnessConfig(num=2, device="cpu", progress=False)).results[0]
    assert r.protocol.rendering == "deterministic" and G.deterministic is True


def test_deterministic_rendering_is_in_the_protocol_and_ignores_batching():
    G = NoisyGenerator()
    det = HarnessConfig(num=5, batch_size=4, device="cpu", progress=False, rendering="deterministic")
    a, b = Recorder("a"), Recorder("a")
    ra = evaluate(G, [a], det).results[0]
    evaluate(G, [b], det.model_copy(update={"batch_size": 3}))
    assert torch.equal(_images(a), _images(b)) and "batch_size" not in ra.details
    assert G.deterministic is False  # the generator's own setting is restored
    rd = evaluate(G, [Recorder("a")], det.model_copy(update={"rendering": "default"})).results[0]
    assert ra.protocol.rendering == "deterministic" and ra.protocol_hash != rd.protocol_hash
    # the default leaves the hash as it was before the field existed
    assert "rendering" not in rd.protocol.canonical_json() and "rendering" in ra.protocol.canonical_json()


def test_each_metric_is_handed_over_as_soon_as_it_is_complete(faces192):
    """A run commits a metric when its last sample group is done, not at the end of the whole pass."""
    G = PhotoGenerator(faces192, lambda z, yaw: "astronaut")
    seen = []
    first, pairs = Recorder("first", num=4), Recorder("pairs", num=4, views=2)
    report = evaluate(G, [first, pairs], HarnessConfig(num=4, batch_size=2, device="cpu", progress=False),
                      on_results=lambda ev, results: seen.append((ev.name, [r.name for r in results], G.calls)))
    assert [s[:2] for s in seen] == [("first", ["first"]), ("pairs", ["pairs"])]
    assert seen[0][2] == 2 and seen[1][2] == 2 + 4  # "first" handed over before any pair was rendered
    assert [r.name for r in report.results] == ["first", "pairs"]


def test_conditioning_camera_follows_the_request(faces192):
    seen = []

    class Spy(PhotoGenerator):
        def mapping(self, z, camera=None, truncation_psi=1.0, truncation_cutoff=None):
            seen.append((camera.yaw_pitch()[0].clone(), truncation_psi))
            return super().mapping(z)

    G = Spy(faces192, lambda z, yaw: "grace")
    evaluate(G, [Recorder("f", 3), Recorder("s", 3, conditioning="same")],
             HarnessConfig(num=3, truncation_psi=0.7, device="cpu", progress=False))
    assert torch.allclose(seen[0][0], torch.zeros(3)) and seen[0][1] == 0.7
    assert not torch.allclose(seen[1][0], torch.zeros(3))  # conditioned on the rendering cameras


def test_unknown_metric_is_a_clear_error():
    from gan3d.errors import UnknownEvaluatorError
    from gan3d.eval import create_evaluator

    assert {"fid", "id", "pose", "smile", "lpips_pair", "lpips_diversity"} <= set(gan3d.list_evaluators())
    with pytest.raises(UnknownEvaluatorError, match="did you mean 'smile'"):
        create_evaluator("smiel")
    assert math.isfinite(0.0)
