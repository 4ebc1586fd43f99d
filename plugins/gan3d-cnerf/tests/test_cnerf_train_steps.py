"""Full steps of both CNeRF training stages on tiny networks: finite gradients reach exactly what each
stage trains; frozen parts stay untouched; data and stage-1 checks refuse bad input before any work."""

from __future__ import annotations

import copy

import pytest
import torch

from gan3d.errors import InputError
from gan3d.train import Batch, DataInfo, Draws, Progress, ema_update, make_optimizer, run_phase
from gan3d_cnerf.train.options import Stage1Options, Stage2Options

TINY1 = dict(style_dim=16, width=8, resolution=16, num_samples=6, d_channel_divisor=16, sphere_init_iters=2,
             sphere_init_resolution=4, export_samples=6)
TINY2 = dict(size=32, channel_multiplier=1, num_samples=6, d_channel_divisor=32, decoder_channel_divisor=32,
             feature_channels=8, export_samples=6)
INFO = DataInfo(resolution=32, num_images=8, has_labels=False, num_classes=9)


def real_batch(B: int = 2) -> Batch:
    g = torch.Generator().manual_seed(0)
    return Batch(torch.rand(B, 3, 32, 32, generator=g) * 2 - 1, None, torch.randint(0, 9, (B, 32, 32), generator=g))


def snapshot(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, module, prefix: str = "") -> set[str]:
    return {k for k, v in module.state_dict().items() if k.startswith(prefix) and not torch.equal(before[k], v)}


def run_iteration(trainer, draws, batch_idx: int, grads: dict | None = None) -> dict:
    """One iteration through the core's step functions; records each phase's gradients in ``grads``."""
    real = real_batch()
    prog = Progress(batch_idx * 2, batch_idx, 2)
    opts = trainer._test_opts
    x = trainer.prepare(real, draws, prog)
    logs = {}
    for ph in trainer.phases():
        if batch_idx % ph.interval:
            continue
        opt = opts[ph.network]
        if grads is not None:
            step = opt.step

            def recording_step(*a, _step=step, _ph=ph, **k):
                grads[_ph.name] = {n: p.grad for n, p in trainer.networks[_ph.network].named_parameters()}
                return _step(*a, **k)
            opt.step = recording_step
        logs.update(run_phase(trainer, ph, opt, real, x, draws, prog))
        if grads is not None:
            opt.step = step
    return logs


@pytest.fixture(scope="module")
def stage1():
    from gan3d_cnerf.train.stage1 import Stage1Trainer

    torch.manual_seed(0)
    tr = Stage1Trainer(Stage1Options(**TINY1), INFO)
    tr._test_opts = {k: make_optimizer(tr.networks[k], s) for k, s in tr.optimizers().items()}
    return tr


def test_stage1_sphere_prefit_moves_only_the_init_network_and_mapping(stage1):
    G = stage1.networks["G"]
    before = snapshot(G)
    history = stage1.sphere_prefit(Draws(3), 2)
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(history)))
    moved = changed(before, G)
    assert any(k.startswith("renderer.init_network.") for k in moved)
    assert any(k.startswith("style.") for k in moved)
    assert not any(k.startswith("renderer.network.") for k in moved) and "renderer.sigmoid_beta" not in moved
    assert stage1.sphere_done and stage1.ema_beta(Progress(0, 0, 2)) == 0.0  # the EMA restarts from the fit
    assert stage1.ema_beta(Progress(0, 0, 2)) == pytest.approx(0.5 ** (32 / 10000))


def test_stage1_step_trains_each_network_in_its_phase_only(stage1):
    nets = stage1.networks
    before = {k: snapshot(v) for k, v in nets.items()}
    grads: dict = {}
    logs = run_iteration(stage1, Draws(1), 0, grads)
    # every phase stepped its own network, finitely
    for phase, net in (("Dglobal", "gd"), ("Dsemantic", "sd"), ("Gmain", "G")):
        g = {n: v for n, v in grads[phase].items() if v is not None}
        assert g and all(torch.isfinite(v).all() for v in g.values()), phase
    # G's gradient reaches the mapping, every local generator and beta, never the frozen init network
    gG = grads["Gmain"]
    assert gG["style.0.weight"] is not None and gG["renderer.sigmoid_beta"] is not None
    for k in range(9):
        assert gG[f"renderer.network.{k}.sdf_linear.weight"].abs().sum() > 0, k
        assert gG[f"renderer.network.{k}.mask_linears.weight"].abs().sum() > 0, k
    assert all(v is None for n, v in gG.items() if n.startswith("renderer.init_network."))
    assert not changed(before["G"], nets["G"], "renderer.init_network.")
    assert changed(before["gd"], nets["gd"]) and changed(before["sd"], nets["sd"])
    assert changed(before["G"], nets["G"], "renderer.network.")
    # observability: every discriminator's loss and the per-class coverage of real and generated masks
    for key in ("Loss/D/adv", "Loss/D/r1", "Loss/D/view", "Loss/Dsem/classify", "Loss/Dsem/adv", "Loss/Dsem/r1",
                "Loss/G/adv", "Loss/G/eikonal", "Loss/G/minimal_surface", "Loss/G/classify", "Loss/G/semantic_adv"):
        assert key in logs and torch.isfinite(logs[key]).all(), key
    real_cov = torch.stack([logs[f"Coverage/real/{n}"].mean() for n in ("background", "face", "eyes", "mouth", "brows",
                                                                       "nose", "ears", "hair", "cloth")])
    assert real_cov.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_stage1_export_is_a_generator_with_semantic_masks(stage1):
    G = stage1.export(stage1.networks["G"])
    assert G.card.method == "cnerf" and not G.config.full_pipeline and G.config.static_viewdirs
    with torch.no_grad():
        out = G(torch.randn(2, 16), G.default_camera(0.0, 0.0))
    assert out.image.shape == (2, 3, 16, 16) and out.semantic.shape == (2, 9, 16, 16)
    for k, v in stage1.networks["G"].state_dict().items():
        assert torch.equal(G.state_dict()[k], v) or k.startswith("mean_latent"), k


def test_stage2_step_trains_the_decoder_only(stage1):
    from gan3d_cnerf.train.stage2 import Stage2Trainer

    G1 = stage1.export(stage1.networks["G"])
    tr = Stage2Trainer(Stage2Options(**TINY2), INFO, stage1=G1)
    tr._test_opts = {k: make_optimizer(tr.networks[k], s) for k, s in tr.optimizers().items()}
    G, D = tr.networks["G"], tr.networks["D"]
    for k, v in G1.state_dict().items():  # the renderer and mapping are stage 1's
        if k.startswith(("style.", "renderer.")):
            assert torch.equal(G.state_dict()[k], v), k
    before_G, before_D = snapshot(G), snapshot(D)
    grads: dict = {}
    logs = run_iteration(tr, Draws(2), 0, grads)  # batch 0: lazy R1 and path length both run
    assert {"Dmain", "Gmain", "Greg"} <= set(grads)
    assert "Loss/D/r1" in logs and "Loss/G/path_length" in logs
    for phase in ("Gmain", "Greg"):
        g = grads[phase]
        assert all(v is None for n, v in g.items() if n.startswith(("style.", "renderer."))), phase
        trained = {n: v for n, v in g.items() if v is not None}
        assert trained and all(n.startswith(("decoder.", "feature_transfer.")) for n in trained), phase
        assert all(torch.isfinite(v).all() for v in trained.values()), phase
    assert grads["Gmain"]["decoder.style.1.weight"] is not None  # the decoder mapping trains too
    assert grads["Gmain"]["feature_transfer.0.weight"] is not None
    assert not changed(before_G, G, "style.") and not changed(before_G, G, "renderer.")
    assert changed(before_G, G, "decoder.") and changed(before_G, G, "feature_transfer.") and changed(before_D, D)
    assert float(tr.mean_path_length) > 0
    ema = copy.deepcopy(G)
    ema_update(ema, G, tr.ema_beta(Progress(2, 1, 2)))
    out = tr.export(ema)(torch.randn(1, 16), G1.default_camera(0.0, 0.0))
    assert out.image.shape == (1, 3, 32, 32) and out.extras["semantic_high"].shape == (1, 9, 32, 32)


def test_data_without_masks_or_with_other_classes_is_refused():
    from gan3d_cnerf.train.entries import check_stage1

    no_masks = check_stage1(Stage1Options(**TINY1), DataInfo(64, 10, True, None))
    assert no_masks and "no masks" in no_masks[0]
    other = check_stage1(Stage1Options(**TINY1), DataInfo(64, 10, True, 12))
    assert other and "12 classes" in other[0] and "9 local generators" in other[0]
    assert check_stage1(Stage1Options(**TINY1), INFO) == []
    too_big = check_stage1(Stage1Options(**{**TINY1, "resolution": 256}), INFO)
    assert too_big and "options.resolution 256" in too_big[0]


def test_stage2_without_a_stage1_snapshot_is_refused(tmp_path):
    from gan3d_cnerf.train.entries import check_stage2
    from gan3d_cnerf.train.stage2 import Stage2Trainer

    missing = check_stage2(Stage2Options(**TINY2), INFO)
    assert missing and "options.stage1" in missing[0] and "snapshot folder of method 'cnerf'" in missing[0]
    gone = check_stage2(Stage2Options(stage1=str(tmp_path / "nope"), **TINY2), INFO)
    assert gone and "does not exist" in gone[0]
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert check_stage2(Stage2Options(stage1=str(tmp_path / "junk.pt"), **TINY2), INFO)
    with pytest.raises(InputError, match="options.stage1"):
        Stage2Trainer(Stage2Options(**TINY2), INFO)
