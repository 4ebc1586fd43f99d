"""The StyleGAN2 teacher trainer (rosinality's recipe): regularisers against their formulas, one step's
gradients, the optimiser/EMA settings, export and loading, and a 2-iteration `gan3d train` run."""

from __future__ import annotations

import math

import pytest
import torch

import gan3d
from gan3d.stylegan2 import StyleGAN2Model, load_rosinality, teacher_state
from gan3d.train import Batch, DataInfo, Draws, Progress, make_optimizer, run_phase
from gan3d.train.stylegan2 import StyleGAN2Options, StyleGAN2Trainer, path_length_penalty, r1_penalty

TINY = {"channel_divisor": 32, "style_dim": 16, "n_mlp": 2}


def tiny_trainer(res: int = 16, **kw) -> StyleGAN2Trainer:
    torch.manual_seed(0)
    return StyleGAN2Trainer(StyleGAN2Options(**{**TINY, **kw}), DataInfo(resolution=res, num_images=8, has_labels=False))


def test_r1_matches_formula():
    c = torch.rand(1, 3, 4, 4) + 0.5

    class Quadratic(torch.nn.Module):  # D(x) = sum c x^2 per sample: dD/dx = 2 c x
        def forward(self, x):
            return (c * x.pow(2)).sum([1, 2, 3])[:, None]

    x = torch.randn(5, 3, 4, 4)
    expected = (2 * c * x).pow(2).sum([1, 2, 3]).mean()
    assert torch.allclose(r1_penalty(Quadratic(), x), expected, rtol=1e-5)


def test_path_length_matches_formula():
    B, L, D, H = 3, 4, 5, 2
    A = torch.randn(3 * H * H, L * D)
    styles = torch.randn(B, L, D, requires_grad=True)
    img = (styles.reshape(B, -1) @ A.T).reshape(B, 3, H, H)  # linear: the Jacobian is A
    noise = torch.randn(B, 3, H, H)
    a = torch.tensor(0.3)
    penalty, path_mean, lengths = path_length_penalty(img, styles, noise, a)
    J = (noise.reshape(B, -1) / math.sqrt(H * H)) @ A  # [B, L*D]
    pl = J.reshape(B, L, D).pow(2).sum(2).mean(1).sqrt()
    mean = a + 0.01 * (pl.mean() - a)
    assert torch.allclose(lengths, pl, rtol=1e-5)
    assert torch.allclose(path_mean, mean, rtol=1e-6)
    assert torch.allclose(penalty, (pl - mean).pow(2).mean(), rtol=1e-5)


def test_optimizer_and_ema_settings():
    t = tiny_trainer()
    opts = {k: make_optimizer(t.networks[k], s) for k, s in t.optimizers().items()}
    g, d = opts["G"].param_groups[0], opts["D"].param_groups[0]
    assert g["lr"] == pytest.approx(0.002 * 4 / 5) and g["betas"] == pytest.approx((0.0, 0.99 ** (4 / 5)))
    assert d["lr"] == pytest.approx(0.002 * 16 / 17) and d["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert t.ema_beta(Progress(0, 0, 4)) == pytest.approx(0.5 ** (32 / 10_000))
    assert [(p.name, p.interval) for p in t.phases()] == [("Dmain", 1), ("Dreg", 16), ("Gmain", 1), ("Greg", 4)]


def test_style_mixing_draws():
    t = tiny_trainer()
    n_latent = t.networks["G"].n_latent
    seen = set()
    for seed in range(40):
        x = t._latents("Gmain", 2, Draws(seed))
        if x["crossover"] is not None:
            seen.add(x["crossover"])
            assert x["z"].shape == (2, 2, 16)
        else:
            assert x["z"].shape == (2, 1, 16)
    assert seen and min(seen) >= 1 and max(seen) <= n_latent - 1
    w1, w2 = torch.zeros(2, 16), torch.ones(2, 16)
    mixed = t.networks["G"].mix([w1, w2], 3)
    assert mixed.shape == (2, n_latent, 16) and mixed[:, :3].eq(0).all() and mixed[:, 3:].eq(1).all()


def _grads(module):
    return {n: p.grad for n, p in module.named_parameters()}


def test_one_iteration_gradients_reach_the_right_network():
    t = tiny_trainer()
    G, D = t.networks["G"], t.networks["D"]
    opts = {k: make_optimizer(t.networks[k], s) for k, s in t.optimizers().items()}
    real = Batch(torch.rand(4, 3, 16, 16) * 2 - 1)
    prog = Progress(0, 0, 4)
    draws = Draws(0)
    inputs = t.prepare(real, draws, prog)
    for phase in t.phases():
        before = {n: p.detach().clone() for n, p in t.networks[phase.network].named_parameters()}
        other = D if phase.network == "G" else G
        other_grads = {n: None if g is None else g.clone() for n, g in _grads(other).items()}
        logs = run_phase(t, phase, opts[phase.network], real, inputs, draws, prog)
        assert all(torch.isfinite(v).all() for v in logs.values()), phase.name
        grads = _grads(t.networks[phase.network])
        missing = [n for n, g in grads.items() if g is None or not torch.isfinite(g).all()]
        # the regularisers' input/style gradients do not depend on output biases (R1: D's last bias; path
        # length: the ToRGB biases), so those alone get none
        exempt = {"Dreg": {"final_linear.1.bias"},
                  "Greg": {"to_rgb1.bias", "to_rgbs.0.bias", "to_rgbs.1.bias"}}.get(phase.name, set())
        assert set(missing) == exempt, (phase.name, missing)
        moved = [n for n, p in t.networks[phase.network].named_parameters() if not torch.equal(before[n], p)]
        assert len(moved) > len(before) // 2, phase.name
        # the other network's gradients were not touched by this phase
        for n, g in _grads(other).items():
            assert (g is None and other_grads[n] is None) or torch.equal(g, other_grads[n]), (phase.name, n)
    assert float(t.mean_path_length) > 0  # the running mean moved from 0 after Greg


def test_export_loads_and_gives_the_teacher_form(tmp_path):
    t = tiny_trainer()
    G = t.export(t.networks["G"])
    assert isinstance(G, StyleGAN2Model) and G.card.method == "stylegan2" and "2D" in G.card.description
    G.save_pretrained(tmp_path / "gen")
    H = gan3d.load(str(tmp_path / "gen"))
    assert isinstance(H, StyleGAN2Model) and torch.equal(H.latent_avg, G.latent_avg)
    z = torch.randn(2, 16)
    G.set_deterministic(True), H.set_deterministic(True)
    a = G(z, truncation_psi=0.7).image
    assert a.shape == (2, 3, 16, 16) and a.abs().max() <= 1
    assert torch.equal(a, H(z, truncation_psi=0.7).image)
    torch.save(teacher_state(G), tmp_path / "teacher.pt")
    R = load_rosinality(tmp_path / "teacher.pt").set_deterministic(True)
    assert torch.equal(R.latent_avg, G.latent_avg) and torch.equal(R(z).image, G(z).image)
    # the camera is ignored: a 2D model renders one view
    yaw = G(z, gan3d.Camera.orbit(0.5, 0.0)).image
    assert torch.equal(yaw, G(z).image)


def test_gan3d_train_two_iterations(tmp_path, unlabelled_data):
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train

    cfg = {"method": "stylegan2", "data": str(unlabelled_data), "batch": 4, "kimg": 0.008, "tick_kimg": 0.004,
           "out": str(tmp_path / "runs"), "num_workers": 0, "device": "cpu", "grid_seeds": [0], "grid_yaws": [0.0],
           "options": {**TINY, "latent_avg_samples": 64}}
    run = train(resolve_config(cfg), progress=False)
    snap = run / "snapshots" / (run / "latest").read_text().strip()
    G = gan3d.load(str(snap / "generator"))
    assert isinstance(G, StyleGAN2Model) and G(torch.randn(1, 16)).image.shape == (1, 3, 16, 16)
    log = (run / "log.jsonl").read_text().splitlines()
    assert len(log) == 2 and "Loss/G/loss" in log[-1] and "Loss/path_length" in log[0]


def test_multiview_metrics_are_not_applicable_to_a_2d_model():
    from gan3d.eval.harness import HarnessConfig, MetricNotApplicable, evaluate
    from gan3d.eval.identity import IdentityEvaluator

    t = tiny_trainer()
    G = t.export(t.networks["G"])
    with pytest.raises(MetricNotApplicable, match="id: n/a for stylegan2/trained16: a 2D StyleGAN2"):
        evaluate(G, [IdentityEvaluator()], HarnessConfig(num=2))


def test_resume_equals_uninterrupted(tmp_path, unlabelled_data):
    from gan3d.cli.main import main
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train
    from train_helpers import final_state

    cfg = {"method": "stylegan2", "data": str(unlabelled_data), "batch": 4, "kimg": 0.012, "tick_kimg": 0.004,
           "out": str(tmp_path / "first"), "num_workers": 0, "device": "cpu", "deterministic": True,
           "grid_seeds": [0], "grid_yaws": [0.0], "options": {**TINY, "latent_avg_samples": 64}}
    run = train(resolve_config(cfg), progress=False)  # 3 iterations (path length at 0), then a snapshot
    assert main(["train", "--resume", str(run), "--kimg", "0.024", "--quiet"]) == 0
    straight = train(resolve_config({**cfg, "kimg": 0.024, "out": str(tmp_path / "straight")}), progress=False)
    a, b = final_state(run), final_state(straight)
    assert a["counters"]["batch_idx"] == 6
    # the path-length running mean is part of the state (rosinality restarts it at 0 on resume)
    assert torch.equal(a["trainer"]["mean_path_length"], b["trainer"]["mean_path_length"])
    for net in ("G", "D"):
        for k, v in a["networks"][net].items():
            assert torch.equal(v, b["networks"][net][k]), (net, k)
    for k, v in a["ema"].items():
        assert torch.equal(v, b["ema"][k]), k


def test_data_resolution_is_checked():
    from gan3d.train.stylegan2 import check_data

    assert "power-of-two" in check_data(StyleGAN2Options(), DataInfo(resolution=48, num_images=4, has_labels=False))[0]
    assert "stops at 256 px" in check_data(StyleGAN2Options(), DataInfo(resolution=512, num_images=4,
                                                                       has_labels=False))[0]
    assert check_data(StyleGAN2Options(channels="rosinality"), DataInfo(resolution=512, num_images=4,
                                                                       has_labels=False)) == []
