"""The StyleGAN2 teacher ships with the LiftedGAN plugin: a stylegan2 snapshot packs as `stylegan2/<variant>`,
registers from the plugin's zoo/ package data, passes the shipped-model check, and a LiftedGAN config can
name it as its teacher by model name."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
import torch

import gan3d
from gan3d.stylegan2 import StyleGAN2Model
from gan3d.train import DataInfo
from gan3d.zoo import reference_render, sanity, shipped_models
from gan3d_liftedgan import plugin as liftedgan_plugin
from gan3d_liftedgan.train import LiftedGANTrainOptions, LiftedGANTrainer, check_data
from liftedgan_testutils import latest_generator, make_teacher_run, teacher_config

PACKAGE = "gan3d_liftedgan_zoo_test_pkg"
NAME = "stylegan2/synth64"
SMALL = {"backbones": "random", "mlp_hidden": 16, "depth_z_dim": 16, "depth_nf": 4, "trans_nf": 4, "trans_z_dim": 4,
         "blur_size": 2, "blur_sigma": 1.0, "rank_downsample": 2, "w_stats_samples": 256, "n_scale": 2}


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """A tiny teacher run packed as stylegan2/synth64 into the zoo/ of a package on sys.path."""
    from gan3d.pack import pack

    root = tmp_path_factory.mktemp("zoo_teacher")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN3D_HOME", str(root / "home"))
        run = make_teacher_run(root / "runs")
        recipe = root / "stylegan2-tiny.toml"
        cfg = teacher_config(root / "runs")
        lines = [f"{k} = {v!r}".replace("'", '"') for k, v in cfg.items() if not isinstance(v, dict)]
        lines += ["[options]"] + [f"{k} = {v!r}" for k, v in cfg["options"].items()]
        recipe.write_text("\n".join(lines).replace("True", "true").replace("False", "false") + "\n")
        site = root / "site"
        (site / PACKAGE).mkdir(parents=True)
        (site / PACKAGE / "__init__.py").write_text("")
        res = pack(latest_generator(run), NAME, site / PACKAGE / "zoo" / "stylegan2-synth64", recipe, fp16=True)
    sys.path.insert(0, str(site))
    yield {"run": run, "result": res}
    sys.path.remove(str(site))
    sys.modules.pop(PACKAGE, None)


@pytest.fixture
def registered(packed, monkeypatch):
    """The registry as installed, the LiftedGAN plugin's zoo/ being the test package's: its own
    ``gan3d_register_models`` hook registers what ``gan3d weights pack`` put there."""
    real = liftedgan_plugin.packaged_models
    monkeypatch.setattr(liftedgan_plugin, "packaged_models",
                        lambda package, *a: real(PACKAGE if package == "gan3d_liftedgan" else package, *a))
    gan3d.registry.reset()  # rediscover the plugins with the redirected zoo
    yield NAME
    monkeypatch.undo()
    gan3d.registry.reset()


def test_a_stylegan2_snapshot_packs_under_its_family_name(packed):
    res = packed["result"]
    assert res.card.name == NAME and res.card.method == "stylegan2"
    assert res.card.packed.dtype == "float16" and res.card.packed.render.mask_share is None
    assert res.card.training.run == packed["run"].name and res.card.dataset
    assert not any("WARNING" in m for m in res.messages)  # a 2D model is not judged by 3D head checks


def test_the_plugin_registers_the_shipped_teacher_and_it_passes_the_shipped_check(packed, registered):
    assert registered in gan3d.list_models() and registered in shipped_models()
    assert gan3d.registry.model_entry(registered).plugin == "liftedgan"
    card = gan3d.model_card(registered)
    assert card.weights[0].package == f"{PACKAGE}:zoo/stylegan2-synth64"
    G = gan3d.load(registered)
    assert isinstance(G, StyleGAN2Model) and not G.is_3d
    snap = gan3d.load(str(latest_generator(packed["run"])))
    for k, v in snap.state_dict().items():  # fp16 storage, fp32 in use, within fp16 rounding
        assert torch.allclose(G.state_dict()[k], v, atol=1e-2, rtol=1e-2), k
    _, out = reference_render(G, card.packed.render)
    assert sanity(G, out).ok


def test_a_liftedgan_config_names_the_shipped_teacher_by_model_name(packed, registered):
    info = DataInfo(resolution=16, num_images=4, has_labels=False)
    o = LiftedGANTrainOptions(teacher=NAME, **SMALL)
    assert check_data(o, info) == []
    tr = LiftedGANTrainer(o, info)
    shipped = gan3d.load(NAME)
    assert all(torch.equal(v, shipped.g_ema.state_dict()[k]) for k, v in tr.model.generator.state_dict().items())
    assert tr.teacher_card.name == NAME and NAME in tr.export(tr.networks["G"]).card.description
    wrong = check_data(o, DataInfo(resolution=32, num_images=4, has_labels=False))
    assert "generates 16 px but the data is 32 px" in wrong[0]


def test_a_student_of_the_shipped_teacher_packs_a_card_naming_it_with_its_sha256(packed, registered, tmp_path,
                                                                                 monkeypatch):
    """`teacher = "stylegan2/synth64"` is no run snapshot: the packed student's card still records it, by
    model name and the sha256 of the weights it loaded (and the teacher's own run, as for `run:NAME`)."""
    from gan3d.cards import RunInput
    from gan3d.io import sha256_file
    from gan3d.pack import pack
    from gan3d.train.config import resolve_config
    from gan3d.train.loop import train

    monkeypatch.chdir(tmp_path)
    images = packed["run"].parent.parent / "teacher-images-16"  # the teacher's own 16-px images
    cfg = {"method": "liftedgan", "data": str(images), "batch": 2, "kimg": 0.002, "tick_kimg": 0.002, "seed": 0,
           "out": "runs", "name": "student", "num_workers": 0, "device": "cpu", "grid_seeds": [0], "grid_yaws": [0.0],
           "options": {**SMALL, "teacher": NAME, "wo_idt": True}}
    recipe = tmp_path / "student.toml"
    # JSON spells these scalars and lists as TOML does
    lines = [f"{k} = {json.dumps(v)}" for k, v in cfg.items() if k != "options"]
    lines += ["[options]"] + [f"{k} = {json.dumps(v)}" for k, v in cfg["options"].items()]
    recipe.write_text("\n".join(lines) + "\n")
    run = train(resolve_config(cfg), progress=False)
    res = pack(latest_generator(run), "liftedgan/tiny-student", tmp_path / "packed", recipe, fp16=False)
    card = gan3d.model_card(NAME)
    pinned = card.weights[0].sha256
    assert pinned == sha256_file(Path(packed["result"].folder) / "weights.pt")
    assert res.card.training.inputs == (RunInput(option="teacher", model=NAME, sha256=pinned,
                                                 run=packed["run"].name, kimg=card.training.kimg),)
    # the record survives the packed card's round trip (what the plugin registers from zoo/)
    assert gan3d.pretrained.read(res.folder, "liftedgan").card().training.inputs == res.card.training.inputs


def test_an_unknown_or_non_stylegan2_model_name_is_refused_clearly(registered):
    info = DataInfo(resolution=16, num_images=4, has_labels=False)
    unknown = check_data(LiftedGANTrainOptions(teacher="stylegan2/nope", **SMALL), info)
    assert "neither a file nor a registered model" in unknown[0] and NAME in unknown[0]
    toy = [n for n in gan3d.list_models() if n.startswith("toy/")]
    if toy:  # the test suite's toy plugin: a registered 3D model is not a teacher
        from gan3d_liftedgan.train.trainer import resolve_teacher

        with pytest.raises(gan3d.errors.InputError, match="not a StyleGAN2"):
            resolve_teacher(toy[0])


def test_the_plugin_ships_zoo_as_package_data():
    import gan3d_liftedgan

    project = Path(gan3d_liftedgan.__file__).parents[2] / "pyproject.toml"
    assert "zoo/**/*" in tomllib.loads(project.read_text())["tool"]["setuptools"]["package-data"]["gan3d_liftedgan"]
