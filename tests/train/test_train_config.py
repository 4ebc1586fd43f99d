"""`gan3d train` refuses bad configs before any work, naming every problem at once."""

from __future__ import annotations

import pytest

from gan3d.cli.main import main
from gan3d.errors import InputError
from gan3d.train.config import resolve_config
from gan3d.train.snapshot import NotARunError, check_run_dir

from train_helpers import toy_config


def test_every_bad_field_is_named_at_once(sphere_data, tmp_path):
    cfg = toy_config(sphere_data, tmp_path, batch=0, tick_kimg="soon", colour="red",
                     options={"hidden": -3, "lr_g": "fast", "dropout": 0.1})
    with pytest.raises(InputError) as e:
        resolve_config(cfg)
    msg = str(e.value)
    for field in ("batch", "tick_kimg", "colour", "options.hidden", "options.lr_g", "options.dropout"):
        assert f"  {field}:" in msg, (field, msg)
    assert "6 problem(s)" in msg


def test_a_bad_config_does_not_build_the_synthetic_world_first(tmp_path, monkeypatch):
    """Building a synth: world can take minutes; with other problems it waits until they are fixed."""
    from gan3d.data.datasets import synth_path

    monkeypatch.setenv("GAN3D_HOME", str(tmp_path / "home"))
    cfg = toy_config("synth:num=4,res=64,seed=0", tmp_path, batch=-2)
    with pytest.raises(InputError) as e:
        resolve_config(cfg)
    msg = str(e.value)
    assert "  batch:" in msg and "  data: not checked yet: synth:num=4,res=64,seed=0 is not built" in msg, msg
    assert not synth_path(4, 64, 0).exists()
    resolve_config({**cfg, "batch": 2})  # a right config builds it
    assert synth_path(4, 64, 0).exists()
    with pytest.raises(InputError) as e:  # once built, the data is checked with the rest
        resolve_config(cfg)
    assert "not checked yet" not in str(e.value)


def test_unknown_method_lists_the_registered_ones(sphere_data, tmp_path):
    with pytest.raises(InputError, match=r"no trainer for method 'tyo'.*did you mean 'toy'.*registered trainers: .*toy"):
        resolve_config(toy_config(sphere_data, tmp_path, method="tyo"))


def test_unknown_preset_and_preset_merging(sphere_data, tmp_path):
    with pytest.raises(InputError, match=r"preset: 'toy' has no preset 'huge'; its presets: tiny, wide"):
        resolve_config(toy_config(sphere_data, tmp_path, preset="huge"))
    cfg = toy_config(sphere_data, tmp_path, preset="wide", options={"d_channels": 4})
    del cfg["batch"]
    with pytest.raises(InputError, match="batch: missing"):  # the preset 'wide' sets no batch
        resolve_config(cfg)
    r = resolve_config({**cfg, "preset": "tiny"})
    assert (r.batch, r.kimg, r.options["hidden"]) == (4, 0.008, 16)  # kimg: the config's beats the preset's
    r = resolve_config({**cfg, "batch": 8})
    assert (r.batch, r.options["hidden"], r.options["d_channels"]) == (8, 32, 4)  # config options beat the preset


def test_missing_data(tmp_path):
    with pytest.raises(InputError, match=r"  data: .*does not exist|  data: .*no such"):
        resolve_config(toy_config(tmp_path / "nowhere", tmp_path))


def test_data_without_labels_for_a_conditioned_method(unlabelled_data, tmp_path):
    with pytest.raises(InputError, match=r"data: the toy trainer is camera-conditioned and the data has no camera labels"):
        resolve_config(toy_config(unlabelled_data, tmp_path))
    resolve_config(toy_config(unlabelled_data, tmp_path, options={"conditioned": False}))  # fine without


def test_unknown_metric_and_unwritable_output(sphere_data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError) as e:
        resolve_config(toy_config(sphere_data, blocker / "runs", metrics=["fdi"]))
    assert "metrics: unknown metric(s) ['fdi']" in str(e.value) and "  out: cannot create" in str(e.value)


def test_resume_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(NotARunError, match="is not a training run folder"):
        check_run_dir(tmp_path)
    with pytest.raises(NotARunError, match="no such folder"):
        check_run_dir(tmp_path / "missing")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan3d: error: --resume") and "Traceback" not in err


def test_cli_config_error_is_one_message(sphere_data, tmp_path, capsys):
    path = tmp_path / "train.toml"
    path.write_text(f'method = "toy"\ndata = "{sphere_data}"\nbatch = 4\nkimg = 0.1\nsnap_ticks = 1\nsnap_kimg = 2.0\n'
                    f'out = "{tmp_path / "runs"}"\n')
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "snap_ticks or snap_kimg, not both" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run folder started


def test_list_shows_methods_and_presets(capsys):
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "preset tiny  (batch=4, kimg=0.032)" in out and "preset wide" in out


def test_yaml_config_and_resume_with_a_conflicting_config(sphere_data, tmp_path, capsys):
    import yaml

    from gan3d.train.config import load_train_config

    cfg = toy_config(sphere_data, tmp_path / "runs")
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert load_train_config(path) == cfg
    assert main(["train", str(path), "--quiet"]) == 0
    run = tmp_path / "runs" / "00000-toy-custom"
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**cfg, "seed": 7, "options": {"hidden": 4}}))
    capsys.readouterr()
    assert main(["train", str(other), "--resume", str(run), "--kimg", "0.016", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "differs from the run being resumed in seed, options.hidden" in err
    assert main(["train", str(path), "--resume", str(run), "--kimg", "0.016", "--quiet"]) == 0  # the same config
