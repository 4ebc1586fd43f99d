"""Shipped models: a trained snapshot packed (fp16 where lossless enough), registered from package data,
loaded by name, sha256-checked; and the check every shipped model must pass."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan3d
from gan3d import cache
from gan3d.errors import ChecksumError, CheckpointError, InputError
from gan3d.pack import MAX_MB, pack
from gan3d.zoo import packaged_models, reference_render, render_sha256, sanity, shipped_models

sys.path.insert(0, str(Path(__file__).parent / "train"))
from train_helpers import toy_config, write_sphere_dataset, write_toml  # noqa: E402

PACKAGE = "gan3d_zoo_test_pkg"
NAME = "toy/trained-shipped"


class _ZooPlugin:
    """A plugin whose package ships packed models: all it does is point at its zoo folder."""

    def __init__(self, package: str):
        self.package = package

    @gan3d.hookimpl
    def gan3d_register_models(self):
        return packaged_models(self.package)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two iterations of the toy trainer, its recipe, and a package folder on sys.path to pack into."""
    root = tmp_path_factory.mktemp("zoo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN3D_HOME", str(root / "home"))
        data = write_sphere_dataset(root / "data", num=8, resolution=16)
        recipe = write_toml(root / "recipe.toml", toy_config(data, root / "runs"))
        from gan3d.train.config import load_train_config, resolve_config
        from gan3d.train.loop import train

        run = train(resolve_config(load_train_config(recipe)), progress=False)
    site = root / "site"
    (site / PACKAGE).mkdir(parents=True)
    (site / PACKAGE / "__init__.py").write_text("")
    sys.path.insert(0, str(site))
    yield {"run": run, "snapshot": run / "snapshots" / "000000.008" / "generator", "recipe": recipe,
           "zoo": site / PACKAGE / "zoo", "site": site}
    sys.path.remove(str(site))
    sys.modules.pop(PACKAGE, None)


@pytest.fixture(scope="module")
def packed(trained):
    res = pack(trained["snapshot"], NAME, trained["zoo"] / "trained", trained["recipe"], fp16=True,
               dataset="synthetic spheres 16")
    return res


@pytest.fixture
def registered(packed):
    gan3d.registry.register(_ZooPlugin(PACKAGE), name="zoo-test")
    yield NAME
    gan3d.registry.unregister("zoo-test")


def test_pack_writes_fp16_safe_form_with_provenance(trained, packed):
    card = packed.card
    assert sorted(p.name for p in packed.folder.iterdir()) == ["config.json", "reference.png", "weights.pt"]
    stored = torch.load(packed.folder / "weights.pt", weights_only=True)
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert card.packed.dtype == "float16" and card.packed.psnr >= card.packed.min_psnr
    assert 0 < card.packed.max_abs_diff <= card.packed.max_diff
    assert card.name == NAME and card.dataset == "synthetic spheres 16"
    t = card.training
    assert t.recipe.endswith("recipe.toml") and t.kimg == 0.008 and t.seed == 1 and t.batch == 4
    assert t.run == trained["run"].name
    from gan3d.train.logs import read_log

    assert t.seconds == pytest.approx(read_log(trained["run"])[-1].time, abs=1e-3)
    assert "CPU cores" in t.machine and t.fid is None
    assert any("no FID" in m for m in packed.messages)
    assert card.weights[0].sha256 == gan3d.io.sha256_file(packed.folder / "weights.pt")
    assert packed.bytes < MAX_MB * 1e6
    ref = np.asarray(Image.open(packed.folder / "reference.png"))
    assert ref.shape == (4 * 16, 3 * 16, 3)  # seeds as rows, yaws as columns


def test_registered_from_package_data_loads_by_name_and_renders_as_fp32(trained, packed, registered):
    assert registered in gan3d.list_models() and registered in shipped_models()
    card = gan3d.model_card(registered)
    assert card.weights[0].package == f"{PACKAGE}:zoo/trained"
    # resolved in place, not copied into the cache
    assert cache.resolve(card)["weights.pt"] == packed.folder / "weights.pt"
    assert not cache.weights_dir(card).exists()
    G = gan3d.load(registered)
    assert G.card.name == registered and G.weights_note == ""
    assert all(v.dtype == torch.float32 for v in G.state_dict().values() if v.is_floating_point())
    spec = card.packed.render
    _, out16 = reference_render(G, spec)
    _, out32 = reference_render(gan3d.load(str(trained["snapshot"])), spec)
    assert float((out16.image - out32.image).abs().max()) <= card.packed.max_abs_diff + 1e-6
    check_shipped(registered)


def test_info_and_models_show_a_shipped_model(registered, capsys):
    from gan3d.cli.main import main

    assert main(["info", registered]) == 0
    info = capsys.readouterr().out
    assert "trained:    0.008 of 0.008 kimg" in info and "stored:     float16; float16 vs float32 render" in info
    assert main(["models", "toy/*"]) == 0
    assert any(line.startswith(registered) and "shipped (verified)" in line
               for line in capsys.readouterr().out.splitlines())


def test_sanity_tells_a_head_from_noise():
    from gan3d.outputs import GeneratorOutput

    class Card:
        class camera:
            radius = 2.7

    class G:
        card = Card

        @staticmethod
        def depth_range():
            return 2.2, 3.2

    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    disc = (((yy - 16) ** 2 + (xx - 16) ** 2) < 100).float()[None, None]      # 31% of the image
    depth = torch.where(disc > 0, torch.tensor(2.5), torch.tensor(3.2))
    head = GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=depth, mask=torch.ones_like(disc))
    check = sanity(G, head)
    assert check.ok and abs(check.mask_share - float(disc.mean())) < 1e-6
    speckle = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    noise = GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=torch.where(speckle > 0, 2.5, 3.2), mask=speckle)
    assert any("scattered" in p for p in sanity(G, noise).problems)
    blank = GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=torch.full_like(disc, 2.5),
                            mask=torch.ones_like(disc))
    assert any("covers 0.0%" in p for p in sanity(G, blank).problems)  # a flat wall: no head in front of it
    # a backdrop painted just behind the head (a plain colour looks the same at any depth): the head is
    # what lies in front of the border's depth
    near = GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=torch.where(disc > 0, 2.5, 2.75),
                           mask=torch.ones_like(disc))
    check = sanity(G, near)
    assert check.ok and abs(check.mask_share - float(disc.mean())) < 1e-6
    filled = GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=torch.full_like(disc, 2.75),
                             mask=torch.ones_like(disc))
    assert not sanity(G, filled).ok
    broken = GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=depth * float("nan"), mask=disc)
    assert not sanity(G, broken).ok


def test_sanity_of_a_surface_that_fills_the_frame():
    """A mesh model without a depth range that covers every pixel (LiftedGAN) has no silhouette: its
    centre must stand out in front of the frame's border instead."""
    from gan3d.outputs import GeneratorOutput

    class G:
        @staticmethod
        def depth_range():
            return None

    yy, xx = torch.meshgrid(torch.arange(32).float(), torch.arange(32).float(), indexing="ij")
    r2 = ((yy - 15.5) ** 2 + (xx - 15.5) ** 2) / 16 ** 2
    full = torch.ones(1, 1, 32, 32)

    def out(depth):
        return GeneratorOutput(image=torch.zeros(1, 3, 32, 32), depth=depth[None, None], mask=full)

    dome = 1.0 - 0.1 * torch.exp(-3 * r2)  # a face nearer than its surround
    check = sanity(G, out(dome))
    assert check.ok and 0.2 < check.mask_share < 0.8, check
    bowl = 1.0 + 0.1 * torch.exp(-3 * r2)  # the centre behind the frame: inside out
    assert any("not in front of the frame's border" in p for p in sanity(G, out(bowl)).problems)
    tilted = 1.0 + 0.01 * (xx - 15.5)  # a plane turned away: no relief in the centre
    assert any("not in front" in p for p in sanity(G, out(tilted)).problems)
    speckled = dome + 0.2 * (torch.rand(32, 32, generator=torch.Generator().manual_seed(0)) < 0.3)
    assert not sanity(G, out(speckled)).ok
    # with a depth range the silhouette rules apply as before (a frame-filling wall has no head in it)
    G.depth_range = staticmethod(lambda: (0.5, 1.5))
    G.card = type("Card", (), {"camera": type("Cam", (), {"radius": 1.0})})
    assert not sanity(G, out(torch.full((32, 32), 1.4))).ok


def test_tampered_weights_are_refused(packed, tmp_path):
    pkg = "gan3d_zoo_tampered_pkg"
    folder = tmp_path / pkg / "zoo" / "trained"
    shutil.copytree(packed.folder, folder)
    (tmp_path / pkg / "__init__.py").write_text("")
    data = bytearray((folder / "weights.pt").read_bytes())
    data[-30] ^= 0xFF
    (folder / "weights.pt").write_bytes(bytes(data))
    sys.path.insert(0, str(tmp_path))
    try:
        gan3d.registry.register(_ZooPlugin(pkg), name="zoo-tampered")
        with pytest.raises(ChecksumError, match="reinstall the package"):
            gan3d.load(NAME)
    finally:
        gan3d.registry.unregister("zoo-tampered")
        sys.path.remove(str(tmp_path))
        sys.modules.pop(pkg, None)
    with pytest.raises(CheckpointError, match="not the weights file"):  # the folder itself checks its pair too
        gan3d.load(str(folder))


def test_fp16_beyond_the_threshold_falls_back_to_fp32(trained, tmp_path):
    res = pack(trained["snapshot"], NAME, tmp_path / "strict", trained["recipe"], min_psnr=200.0)
    assert res.card.packed.dtype == "float32" and "refused" in res.card.packed.note
    assert any("float16 refused" in m for m in res.messages)
    stored = torch.load(res.folder / "weights.pt", weights_only=True)
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float32}
    G = gan3d.load(str(res.folder))
    images, _ = reference_render(G, res.card.packed.render)
    assert render_sha256(images) == res.card.packed.render.sha256


def test_size_limit_recipe_and_snapshot_are_checked(trained, tmp_path):
    with pytest.raises(InputError, match=r"over the 0\.001 MB"):
        pack(trained["snapshot"], NAME, tmp_path / "big", trained["recipe"], max_mb=0.001)
    assert not (tmp_path / "big").exists() and not list(tmp_path.glob(".big.*"))
    other = write_toml(tmp_path / "other.toml", {**toy_config(Path("x"), tmp_path), "seed": 7})
    with pytest.raises(InputError, match="differ in .*seed"):
        pack(trained["snapshot"], NAME, tmp_path / "o", other)
    with pytest.raises(InputError, match="not a snapshot of a training run"):
        pack(tmp_path, NAME, tmp_path / "o", trained["recipe"])
    with pytest.raises(InputError, match="must be toy/VARIANT"):
        pack(trained["snapshot"], "eg3d/x", tmp_path / "o", trained["recipe"])


def test_the_runs_fid_at_the_snapshot_goes_on_the_card(trained, tmp_path):
    from gan3d.store import ResultStore, StoredResult

    store = trained["run"] / "gan3d-results.sqlite"  # the run's store, as the loop's metrics would fill it
    try:
        with ResultStore(store) as st:
            st.add_results([StoredResult(run_id="r", model=str(trained["snapshot"]), metric="fid", value=42.5, n=4,
                                         protocol_hash="h", kimg=0.008),
                            StoredResult(run_id="r", model=str(trained["snapshot"]), metric="fid", value=99.0, n=4,
                                         protocol_hash="h", kimg=0.004)])
        res = pack(trained["snapshot"], NAME, tmp_path / "fid", trained["recipe"])
    finally:
        store.unlink()
    fid = res.card.training.fid
    assert fid.value == 42.5 and fid.kimg == 0.008 and fid.num == 1000  # the recipe's metric_num (default)
    assert fid.reference.startswith("the training data (")


def test_the_runs_fid_curve_up_to_the_snapshot_goes_on_the_card(trained, tmp_path):
    """FID by kimg as the run measured it, up to and including the shipped snapshot; older cards load."""
    from gan3d.cards import ModelCard
    from gan3d.store import ResultStore, StoredResult

    store = trained["run"] / "gan3d-results.sqlite"
    snap = str(trained["snapshot"])
    early = snap.replace("000000.008", "000000.004")
    later = snap.replace("000000.008", "000000.012")  # a snapshot past the shipped one (a longer run)
    other = str(Path("elsewhere") / "00009-other" / "snapshots" / "000000.006" / "generator")  # another run
    try:
        with ResultStore(store) as st:
            st.add_results([StoredResult(run_id="r", model=m, metric=metric, value=v, n=4, protocol_hash="h", kimg=k)
                            for m, metric, v, k in [(snap, "fid", 42.5, 0.008), (early, "fid", 99.0, 0.004),
                                                    (later, "fid", 30.0, 0.012), (other, "fid", 7.0, 0.006),
                                                    (snap, "kid", 0.1, 0.006)]])
        res = pack(trained["snapshot"], NAME, tmp_path / "curve", trained["recipe"])
    finally:
        store.unlink()
    t = res.card.training
    assert t.curve == ((0.004, 99.0), (0.008, 42.5)) and t.fid.value == t.curve[-1][1]
    assert t.inputs == () and res.card.is_3d  # the toy is 3D-aware and named no other run
    # a card written before the curve, the run inputs and is_3d existed still loads, with their defaults
    old = res.card.model_dump(mode="json")
    old.pop("is_3d")
    for key in ("curve", "inputs"):
        old["training"].pop(key)
    old["training"]["fid"].pop("reference")
    loaded = ModelCard.model_validate(old)
    assert loaded.training.curve == () and loaded.training.inputs == () and loaded.is_3d


def test_training_time_adds_the_stretches_of_a_resumed_run(tmp_path):
    import json

    from gan3d.pack import training_seconds

    # the log's clock restarts at each resumption; a record past the snapshot is not counted
    times = [(1.0, 10.0), (2.0, 20.0), (3.0, 5.0), (4.0, 15.0), (5.0, 25.0)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(
        {"tick": i, "kimg": k, "batch_idx": i, "sec_per_kimg": 1.0, "time": t, "timestamp": 0.0, "losses": {}}) + "\n"
        for i, (k, t) in enumerate(times)))
    assert training_seconds(tmp_path, 4.0) == 35.0
    assert training_seconds(tmp_path, 2.0) == 20.0


def test_no_packed_models_register_nothing(tmp_path):
    assert packaged_models("gan3d") == []                    # a package without zoo/
    assert packaged_models("no_such_package_here") == []
    (tmp_path / "empty_zoo_pkg" / "zoo" / "junk").mkdir(parents=True)
    (tmp_path / "empty_zoo_pkg" / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        assert packaged_models("empty_zoo_pkg") == []
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("empty_zoo_pkg", None)


def test_cli_pack(trained, tmp_path, capsys):
    from gan3d.cli.main import main

    out = tmp_path / "cli"
    code = main(["weights", "pack", str(trained["snapshot"]), "--name", NAME, "--recipe", str(trained["recipe"]),
                 "--out", str(out), "--fp16"])
    printed = capsys.readouterr().out
    assert code == 0 and f"packed {NAME} (float16" in printed and "no FID recorded" in printed
    assert main(["weights", "pack", str(trained["snapshot"]), "--name", NAME, "--recipe", str(trained["recipe"]),
                 "--out", str(out)]) == 2  # not empty: --force needed
    assert "--force" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- shipped models
def check_shipped(name: str) -> None:
    """What every shipped model must pass: its reference views render as recorded at packing time (the
    hash; across machines whose float rounding differs, within one uint8 level of reference.png), and
    they show a head of plausible size with depth in front of the background, not noise."""
    card = gan3d.model_card(name)
    assert card.packed is not None and card.training is not None, f"{name} has no packing or training record"
    folder = cache.packaged_path(card.weights[0]).parent
    assert sum(p.stat().st_size for p in folder.iterdir()) <= MAX_MB * 1e6
    G = gan3d.load(name)
    images, out = reference_render(G, card.packed.render)
    if render_sha256(images) != card.packed.render.sha256:
        ref = np.asarray(Image.open(folder / card.packed.render.file))
        S, V, H, W, C = images.shape
        now = images.transpose(0, 2, 1, 3, 4).reshape(S * H, V * W, C)
        diff = np.abs(now.astype(int) - ref.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, \
            f"{name} renders {diff.max()} levels away from its reference ({(diff > 0).mean():.2%} of pixels)"
    check = sanity(G, out)
    assert check.ok, f"{name}: " + "; ".join(check.problems)
    assert card.packed.render.mask_share is None or abs(check.mask_share - card.packed.render.mask_share) < 0.01


@pytest.mark.parametrize("name", shipped_models() or [None])
def test_every_shipped_model(name):
    if name is None:
        pytest.skip("no shipped models: no installed plugin has a packed model in its zoo/ yet "
                    "(pack one with `gan3d weights pack`)")
    check_shipped(name)


def test_a_recipe_naming_its_teacher_by_run_packs_its_student(trained, tmp_path, monkeypatch):
    """`run:NAME` in the recipe matches the snapshot the run recorded, even once NAME has a newer run."""
    from gan3d.train.config import load_train_config, resolve_config
    from gan3d.train.loop import train

    monkeypatch.chdir(tmp_path)
    data = load_train_config(trained["recipe"])["data"]
    teacher = train(resolve_config(toy_config(Path(data), "runs", name="teacher")), progress=False)
    recipe = write_toml(tmp_path / "student.toml", toy_config(Path(data), "runs", name="student",
                                                              options={"init_from": "run:teacher"}))
    student = train(resolve_config(load_train_config(recipe)), progress=False)
    train(resolve_config(toy_config(Path(data), "runs", name="teacher")), progress=False)  # a newer teacher run
    res = pack(student / "snapshots" / "000000.008" / "generator", NAME, tmp_path / "packed", recipe)
    assert res.card.training.run == student.name
    # the card names the run it built on (what the demo reads to call a 2D teacher by its student)
    from gan3d.cards import RunInput

    assert res.card.training.inputs == (RunInput(option="init_from", run=teacher.name, kimg=0.008),)
    other = write_toml(tmp_path / "other.toml", toy_config(Path(data), "runs", name="student",
                                                           options={"init_from": "run:someone-else"}))
    with pytest.raises(InputError, match=r"differ in options\.init_from"):
        pack(student / "snapshots" / "000000.008" / "generator", NAME, tmp_path / "o", other)


def test_a_2d_generator_packs_a_card_that_says_so(trained, tmp_path, monkeypatch):
    """The card records whether the model is 3D-aware, so the demo can leave a 2D teacher out unloaded."""
    from gan3d.demo import plan_models

    pkg = "gan3d_zoo_flat_pkg"
    monkeypatch.setattr(type(gan3d.load(str(trained["snapshot"]))), "is_3d", False, raising=False)
    res = pack(trained["snapshot"], "toy/flat-shipped", tmp_path / pkg / "zoo" / "flat", trained["recipe"])
    assert not res.card.is_3d
    monkeypatch.undo()
    (tmp_path / pkg / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    gan3d.registry.register(_ZooPlugin(pkg), name="zoo-flat")
    try:
        plan = plan_models(include_toy=True)
    finally:
        gan3d.registry.unregister("zoo-flat")
        sys.path.remove(str(tmp_path))
        sys.modules.pop(pkg, None)
    assert "toy/flat-shipped" not in plan.names and "toy/flat-shipped" not in plan.missing
    assert plan.not_compared["toy/flat-shipped"].startswith("2D model, not compared")
