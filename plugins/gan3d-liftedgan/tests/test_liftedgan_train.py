"""LiftedGAN training: each loss term against its formula, one full step's gradients (trained networks yes,
frozen teacher no), the ablation switches, teacher checks before any work, and a 2-iteration `gan3d train`.

The loss backbones (VGG16, the face net) are randomly initialised here (offline): these tests check the
wiring and the formulas, not pretrained features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gan3d
from gan3d.stylegan2 import StyleGAN2Config, StyleGAN2Model, make_card, teacher_state
from gan3d.train import Batch, DataInfo, Draws, Progress, make_optimizer, run_phase
from gan3d_liftedgan.model import LiftedGAN
from gan3d_liftedgan.train import LiftedGANTrainOptions, LiftedGANTrainer, check_data
from gan3d_liftedgan.train.backbones import vgg16_features
from gan3d_liftedgan.train.losses import (PerceptualLoss, albedo_rank_loss, contour_clip, identity_loss,
                                          latent_regulariser, masked_l1)

SMALL = {"backbones": "random", "mlp_hidden": 16, "depth_z_dim": 16, "depth_nf": 4, "trans_nf": 4, "trans_z_dim": 4,
         "blur_size": 2, "blur_sigma": 1.0, "rank_downsample": 2, "w_stats_samples": 256, "n_scale": 2}


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = StyleGAN2Config(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 8, 16: 4})
    T = StyleGAN2Model(make_card("tiny", "synthetic heads", cfg), cfg)
    T.compute_latent_avg(64)
    out = tmp_path_factory.mktemp("teacher")
    T.save_pretrained(out / "generator")
    torch.save(teacher_state(T), out / "teacher.pt")
    return out


def info(res: int = 16) -> DataInfo:
    return DataInfo(resolution=res, num_images=4, has_labels=False)


# ------------------------------------------------------------------------------ loss terms
def test_masked_l1():
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    m = (torch.rand(2, 1, 4, 4) > 0.5).float()
    num = sum(abs(float(a[i, c, y, x] - b[i, c, y, x])) for i in range(2) for c in range(3) for y in range(4)
              for x in range(4) if m[i, 0, y, x] > 0)
    assert float(masked_l1(a, b, m)) == pytest.approx(num / (3 * float(m.sum())), rel=1e-5)
    assert float(masked_l1(a, b)) == pytest.approx(float((a - b).abs().mean()), rel=1e-6)


def test_masked_perceptual_matches_formula():
    torch.manual_seed(1)
    feats, note = vgg16_features(pretrained=False)
    assert "random" in note
    loss = PerceptualLoss(feats, n_scale=2, indices=(1, 2, 3))
    im1, im2 = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    mask = (torch.rand(2, 1, 32, 32) > 0.3).float()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ends = {1: 9, 2: 16, 3: 23}  # relu2_2, relu3_3, relu4_3: the end of each slice of vgg16.features
    terms = []
    for scale in range(2):
        x1, x2 = [((im / 2 + 0.5) - mean) / std for im in (im1, im2)]
        if scale:
            x1, x2 = F.avg_pool2d(x1, 2), F.avg_pool2d(x2, 2)
        for idx in (1, 2, 3):
            f1, f2 = feats[:ends[idx]](x1), feats[:ends[idx]](x2)
            cos = (f1 * f2).sum(1) / (f1.norm(dim=1).clamp_min(1e-12) * f2.norm(dim=1).clamp_min(1e-12))
            d = 2 - 2 * cos  # squared distance of unit vectors
            k = 32 // d.shape[-1]
            m = mask.reshape(2, d.shape[-2], k, d.shape[-1], k).mean((2, 4))  # block average
            terms.append(float((d * m).sum() / (m.sum() * 1)))
    with torch.no_grad():
        got = float(loss(im1, im2, mask))
    assert got == pytest.approx(np.mean(terms), rel=1e-4)


def test_random_backbones_are_the_same_whatever_the_callers_rng_and_leave_it_alone():
    """`backbones = "random"` (the synth recipes) builds VGG16 and the face nets from RANDOM_SEED: two builds
    after different draws give the same features, and the caller's RNG stream goes on as if untouched."""
    from gan3d_liftedgan.train.backbones import RANDOM_NOTE, RANDOM_SEED, face_embedding

    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    outputs = []
    for caller_seed in (1, 12345):
        torch.manual_seed(caller_seed)
        torch.rand(caller_seed % 97)  # a different amount drawn before, as a run would
        before = torch.get_rng_state()
        vgg, vgg_note = vgg16_features(pretrained=False)
        faces = {kind: face_embedding(kind, pretrained=False) for kind in ("lresnet_casia", "facenet")}
        assert torch.equal(torch.get_rng_state(), before)  # the caller's stream is unchanged
        assert vgg_note == RANDOM_NOTE and all(note == RANDOM_NOTE for _, note in faces.values())
        with torch.no_grad():
            outputs.append({"vgg16": vgg(x), **{k: net(x) for k, (net, _) in faces.items()}})
    assert f"seed {RANDOM_SEED}" in RANDOM_NOTE
    for name in ("vgg16", "lresnet_casia", "facenet"):
        a, b = outputs[0][name], outputs[1][name]
        assert a.abs().sum() > 0 and torch.isfinite(a).all(), name
        assert torch.equal(a, b), name
    assert outputs[0]["lresnet_casia"].shape == outputs[0]["facenet"].shape == (2, 512)


def test_nuclear_norm_albedo_loss():
    torch.manual_seed(2)
    albedo = torch.randn(3, 3, 8, 8)
    depth = 1.0 + 0.1 * torch.rand(3, 8, 8)

    def blur(x):  # any fixed low-pass works for the formula check
        return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)

    got = albedo_rank_loss(albedo, depth, blur, 1.05, 2)
    a = albedo.mean(1, keepdim=True)
    r = (a - blur(a)) * (depth[:, None] <= 1.04).float()
    r = F.avg_pool2d(r, 2).reshape(3, -1).double().numpy()
    assert float(got) == pytest.approx(np.linalg.svd(r, compute_uv=False).sum(), rel=1e-5)


def test_latent_and_identity_terms():
    w, mu = torch.randn(4, 6), torch.randn(1, 6)
    assert float(latent_regulariser(w, mu, 0.25)) == pytest.approx(float(((w - mu) ** 2).sum() / 24 * 0.25), rel=1e-6)
    e1, e2 = F.normalize(torch.randn(4, 5), dim=1), F.normalize(torch.randn(4, 5), dim=1)
    keep = torch.tensor([True, False, True, False])
    expected = ((e1[0] - e2[0]).pow(2).sum() + (e1[2] - e2[2]).pow(2).sum()) / 2
    assert float(identity_loss(e1, e2, keep)) == pytest.approx(float(expected), rel=1e-6)
    assert identity_loss(e1, e2, torch.zeros(4, dtype=torch.bool)) is None


def test_contour_gradient_clip():
    x = torch.zeros(1, 8, 8, requires_grad=True)
    region = torch.zeros(1, 8, 8)
    region[:, 2:6, 2:6] = 1  # gradient arrives on a 4x4 square
    (contour_clip(x) * region * 3).sum().backward()
    expected = torch.zeros(1, 8, 8)
    expected[:, 3:5, 3:5] = 3  # its rim (pixels with a neighbour outside) is cleared, the inside kept
    assert torch.equal(x.grad, expected)


# ------------------------------------------------------------------------------ one step
def test_one_step_reaches_every_trained_network_and_not_the_teacher(teacher_dir):
    torch.manual_seed(0)
    tr = LiftedGANTrainer(LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), **SMALL), info())
    net = tr.networks["G"]
    teacher = {n: p.detach().clone() for n, p in tr.model.generator.named_parameters()}
    opt = make_optimizer(net, tr.optimizers()["G"])
    assert opt.param_groups[0]["weight_decay"] == 5e-4 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    real, prog, draws = Batch(torch.zeros(4, 3, 16, 16)), Progress(0, 0, 4), Draws(3)
    inputs = tr.prepare(real, draws, prog)
    inputs["angles"][0, 1] = 10.0  # at least one small yaw: the identity term is active
    logs = run_phase(tr, tr.phases()[0], opt, real, inputs, draws, prog)
    for key in ("rec", "perturb_im", "perturb_light", "perturb_view", "identity", "reg_style", "albedo_rank",
                "perturb_G", "total"):
        assert torch.isfinite(logs[f"Loss/{key}"]).all(), key
    for name in ("netD", "netT", "netSC", "netSD.model_light", "netSD.model_view"):
        grads = [p.grad for n, p in net.named_parameters() if n.startswith(name + ".")]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert any(g.abs().sum() > 0 for g in grads), name
    # the official style head is never used: no gradient; the frozen teacher gets none and does not move
    assert all(p.grad is None for n, p in net.named_parameters() if n.startswith("netSD.model_style."))
    assert all(p.grad is None and not p.requires_grad for p in tr.model.generator.parameters())
    assert all(torch.equal(teacher[n], p) for n, p in tr.model.generator.named_parameters())
    assert not any(n.startswith("generator.") for n, _ in net.named_parameters())


def test_pass_two_trains_only_the_style_manipulation(teacher_dir):
    torch.manual_seed(0)
    tr = LiftedGANTrainer(LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), **SMALL), info())
    inputs = tr.prepare(Batch(torch.zeros(2, 3, 16, 16)), Draws(0), Progress(0, 0, 2))
    styles, _ = tr.targets(inputs["z"])
    est = tr.model.estimate(styles)
    light_p, view_p = tr.perturbation(est.light, inputs)
    tr.networks["G"].zero_grad(set_to_none=True)
    tr.style_pass(est, styles, light_p, view_p, {}).backward()
    touched = {n.split(".")[0] for n, p in tr.networks["G"].named_parameters() if p.grad is not None}
    assert touched == {"netSC"}
    # the sampled view: yaw/pitch within the ranges, roll 0, tx = 0.2 sin(yaw)
    a = inputs["angles"]
    assert (a[:, 0].abs() <= 15).all() and (a[:, 1].abs() <= 45).all() and (a[:, 2] == 0).all()
    assert torch.allclose(view_p[:, 3], 0.2 * torch.sin(a[:, 1] * torch.pi / 180))
    assert torch.allclose(view_p[:, :3], a / 60) and (view_p[:, 4:] == 0).all()


def test_ablations_zero_their_weight_and_are_on_the_card(teacher_dir):
    o = LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), wo_flip=True, wo_rega=True, **SMALL)
    w = o.weights()
    assert w["lam_flip"] == 0 and w["lam_albedo_rank"] == 0 and w["lam_rec"] == 5 and w["lam_perturb_im"] == 2
    tr = LiftedGANTrainer(o, info())
    G = tr.export(tr.networks["G"])
    assert "Ablations: wo_flip, wo_rega" in G.card.description and "lam_flip=0" in G.card.description
    # random loss backbones (the synth recipes'): the card names the seed; the weights themselves are trained,
    # so no weights note (it marks random weights in grids, stores and leaderboards)
    assert "loss backbones: random (seed 0, not pretrained)" in G.card.description
    assert G.weights_note == ""
    o2 = LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), wo_perturb=True, wo_idt=True, **SMALL)
    tr2 = LiftedGANTrainer(o2, info())
    assert tr2.face is None
    real = Batch(torch.zeros(2, 3, 16, 16))
    inputs = tr2.prepare(real, Draws(0), Progress(0, 0, 2))
    _, logs = tr2.loss(tr2.phases()[0], real, inputs, Draws(0), Progress(0, 0, 2))
    assert "Loss/perturb_G" not in logs and "Loss/perturb_im" not in logs and "Loss/identity" not in logs


def test_style_prefit_fits_netsc_to_the_identity_once(teacher_dir):
    """The synth64 preset's netSC pre-fit (not official): M(w, l, v) moves towards w, nothing else moves,
    it runs on the first prepare only, and the trained flags are left as they were."""
    torch.manual_seed(0)
    tr = LiftedGANTrainer(LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), style_init_iters=150,
                                                style_init_batch=16, **SMALL), info())
    m, net = tr.model, tr.networks["G"]
    styles, _ = tr.targets(torch.randn(32, 16, generator=torch.Generator().manual_seed(9)))

    def misfit() -> float:  # at the neutral light and view of `estimate`, relative to the styles' own spread
        with torch.no_grad():
            _, light, view = m.netSD(styles)
            w0 = m.netSC(styles, torch.cat((light[:, :2], torch.zeros_like(light[:, 2:])), 1), 0 * view)
        return float((w0 - styles).norm(dim=1).mean() / (styles - styles.mean(0)).norm(dim=1).mean())

    before, flags = misfit(), {n: p.requires_grad for n, p in net.named_parameters()}
    others = {n: p.detach().clone() for n, p in net.named_parameters() if not n.startswith("netSC.")}
    assert not tr.style_init_done and tr.extra_state() == {"style_init_done": False}
    draws = Draws(0)
    tr.prepare(Batch(torch.zeros(2, 3, 16, 16)), draws, Progress(0, 0, 2))
    after = misfit()
    assert tr.style_init_done and after < 0.7 * before, (before, after)  # 1.53 -> 0.89 at these widths
    assert all(torch.equal(others[n], p) for n, p in net.named_parameters() if n in others)
    assert flags == {n: p.requires_grad for n, p in net.named_parameters()}
    fitted = {n: p.detach().clone() for n, p in net.named_parameters()}
    tr.prepare(Batch(torch.zeros(2, 3, 16, 16)), draws, Progress(2, 1, 2))  # no second pre-fit
    assert all(torch.equal(fitted[n], p) for n, p in net.named_parameters())
    fresh = LiftedGANTrainer(LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), style_init_iters=150,
                                                   **SMALL), info())
    fresh.load_extra_state(tr.extra_state())  # a resumed run does not pre-fit again
    assert fresh.style_init_done


def test_pretrained_backbone_hashes_reach_the_card(teacher_dir, tmp_path, monkeypatch):
    """With pretrained backbones the card names each file's sha256 (here a VGG16 file of random values whose
    checksum lookup is stubbed: the real one is a download)."""
    from torchvision.models.vgg import cfgs, make_layers

    from gan3d_liftedgan.train import backbones

    path = tmp_path / "vgg16.pth"  # the convolutional layers the loss reads, under torchvision's key names
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["D"])[:23].state_dict().items()}, path)
    monkeypatch.setattr(backbones, "resolve_backbone", lambda bf, local=None: (Path(local), "ab12" * 16))
    o = LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), wo_idt=True, vgg_weights=str(path),
                              **{**SMALL, "backbones": "pretrained"})
    tr = LiftedGANTrainer(o, info())
    G = tr.export(tr.networks["G"])
    assert f"loss backbones: perceptual: vgg16 sha256 {'ab12' * 16}." in G.card.description


# ------------------------------------------------------------------------------ teacher checks
def test_teacher_is_checked_before_any_work(teacher_dir, tmp_path):
    assert "teacher is not set" in check_data(LiftedGANTrainOptions(**SMALL), info())[0]
    missing = check_data(LiftedGANTrainOptions(teacher=str(tmp_path / "nope"), **SMALL), info())
    assert "does not exist" in missing[0]
    wrong_res = check_data(LiftedGANTrainOptions(teacher=str(teacher_dir / "generator"), **SMALL), info(32))
    assert "generates 16 px but the data is 32 px" in wrong_res[0]
    wrong_dim = check_data(LiftedGANTrainOptions(teacher=str(teacher_dir / "teacher.pt"), style_dim=512, **SMALL),
                           info())
    assert "latent size 16" in wrong_dim[0]
    assert check_data(LiftedGANTrainOptions(teacher=str(teacher_dir / "teacher.pt"), **SMALL), info()) == []
    with pytest.raises(gan3d.errors.InputError, match="teacher is not set"):
        LiftedGANTrainer(LiftedGANTrainOptions(**SMALL), info())


# ------------------------------------------------------------------------------ the core loop
def test_gan3d_train_two_iterations(teacher_dir, tmp_path):
    from PIL import Image

    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train

    data = tmp_path / "images"
    data.mkdir()
    for i in range(4):  # the loop needs a data set; LiftedGAN's targets come from the teacher
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(data / f"{i}.png")
    cfg = {"method": "liftedgan", "data": str(data), "batch": 2, "kimg": 0.004, "tick_kimg": 0.002,
           "out": str(tmp_path / "runs"), "num_workers": 0, "device": "cpu", "grid_seeds": [0], "grid_yaws": [0.0],
           "options": {**SMALL, "teacher": str(teacher_dir / "generator"), "wo_idt": True}}
    run = train(resolve_config(cfg), progress=False)
    snap = run / "snapshots" / (run / "latest").read_text().strip()
    G = gan3d.load(str(snap / "generator"))
    assert isinstance(G, LiftedGAN) and "wo_idt" in G.card.description
    out = G(torch.randn(1, 16), gan3d.Camera.orbit(0.3, 0.0, radius=1.0, focal=G.card.camera.focal))
    assert out.image.shape == (1, 3, 16, 16) and out.depth is not None
    bad = dict(cfg, options={**SMALL})
    with pytest.raises(gan3d.errors.InputError, match="teacher is not set"):
        resolve_config(bad)


@pytest.mark.parametrize("style_init_iters", [0, 5])
def test_resume_equals_uninterrupted(teacher_dir, tmp_path, style_init_iters):
    from PIL import Image

    from gan3d.cli.main import main
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train

    data = tmp_path / "images"
    data.mkdir()
    for i in range(4):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(data / f"{i}.png")
    cfg = {"method": "liftedgan", "data": str(data), "batch": 2, "kimg": 0.004, "tick_kimg": 0.002,
           "out": str(tmp_path / "first"), "num_workers": 0, "device": "cpu", "deterministic": True,
           "grid_seeds": [0], "grid_yaws": [0.0],
           "options": {**SMALL, "teacher": str(teacher_dir / "teacher.pt"), "style_init_iters": style_init_iters}}
    run = train(resolve_config(cfg), progress=False)  # stops after 2 iterations with a snapshot
    assert main(["train", "--resume", str(run), "--kimg", "0.008", "--quiet"]) == 0
    straight = train(resolve_config({**cfg, "kimg": 0.008, "out": str(tmp_path / "straight")}), progress=False)

    def state(r):
        snap = r / "snapshots" / (r / "latest").read_text().strip()
        return torch.load(snap / "training-state.pt", weights_only=True)

    a, b = state(run), state(straight)
    assert a["counters"]["batch_idx"] == b["counters"]["batch_idx"] == 4
    for k, v in a["networks"]["G"].items():
        assert torch.equal(v, b["networks"]["G"][k]), k
    for i, s in a["optimizers"]["G"]["state"].items():
        assert torch.equal(s["exp_avg"], b["optimizers"]["G"]["state"][i]["exp_avg"]), i
