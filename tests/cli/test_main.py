"""The gan3d command line, end to end on the toy plugin (in-process, as a user would type it)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gan3d.cli.main import build_parser, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_runs_the_toy_plugin_end_to_end(tmp_path, capsys):
    code, out, err = run(capsys, "generate", "toy/sphere", "--seeds", "0-2", "--yaw", "-0.4,0,0.4",
                         "--pitch", "0", "--trunc", "0.7", "--out", str(tmp_path), "--deterministic")
    assert code == 0, err
    assert str(tmp_path / "grid.png") in out
    for s in range(3):
        img = np.asarray(Image.open(tmp_path / f"seed{s:04d}.png"))
        assert img.shape == (64, 192, 3)  # three 64 px views side by side
        assert img[28:36, 28:36].mean() > img[:4, :4].mean() + 20  # a lit sphere in front of black
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (192, 192, 3)
    # seeds draw different spheres
    a, b = (np.asarray(Image.open(tmp_path / f"seed000{s}.png")).astype(int) for s in (0, 1))
    assert np.abs(a - b).mean() > 5


def test_generate_resumes_identical_runs_and_redoes_changed_ones(tmp_path, capsys):
    args = ["generate", "toy/sphere", "--seeds", "0-1", "--out", str(tmp_path), "--deterministic"]
    assert run(capsys, *args)[0] == 0
    first = tmp_path / "seed0000.png"
    first.write_bytes(first.read_bytes())  # touch: a resumed run keeps finished images
    marker = first.stat().st_mtime_ns
    assert run(capsys, *args, "--seeds", "0-2")[0] == 0
    assert first.stat().st_mtime_ns == marker and (tmp_path / "seed0002.png").is_file()
    assert run(capsys, *args, "--yaw", "0.1")[0] == 0  # other settings: redone
    assert np.asarray(Image.open(first)).shape == (64, 64, 3)


@pytest.mark.parametrize("argv,needle", [
    (["generate", "toy/spere"], "did you mean 'toy/sphere'"),
    (["generate", "toy/sphere", "--seeds", "3-1"], "seed range"),
    (["generate", "toy/sphere", "--yaw", "a,b"], "bad yaw list"),
    (["generate", "toy/sphere", "--yaw", "nan"], "finite"),
    (["generate", "toy/sphere", "--radius", "-2"], "--radius"),
    (["generate", "toy/sphere", "--radius", "nan"], "--radius"),
    (["generate", "toy/sphere", "--bogus"], "unrecognized arguments"),
    (["info", "eg4d/ffhq"], "unknown model"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len([line for line in err.strip().splitlines() if line.startswith("gan3d")]) == 1


def test_models_info_and_weights_commands(tmp_path, capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "toy/sphere" in out and "none needed" in out
    code, out, _ = run(capsys, "info", "toy/sphere")
    assert code == 0 and "radius 2.7" in out and "z: 8" in out
    code, out, _ = run(capsys, "info", "toy/sphere", "--json")
    assert json.loads(out)["latent"]["parts"] == {"z": 8}
    code, out, _ = run(capsys, "weights", "list")
    # an empty cache: only the weights that plugins ship as package data (read in place) are listed
    listed = [ln for ln in out.splitlines()[1:] if ln.strip()]
    assert code == 0 and ("nothing cached" in out or all("/zoo/" in ln and "verified" in ln for ln in listed))
    code, out, _ = run(capsys, "weights", "path", "toy/sphere")
    assert "needs no weights" in out
    assert run(capsys, "weights", "verify")[0] == 0
    code, out, _ = run(capsys, "weights", "convert", "toy/sphere", str(tmp_path / "safe"))
    assert code == 0 and (tmp_path / "safe" / "config.json").is_file()
    code, _, err = run(capsys, "weights", "convert", "toy/sphere", str(tmp_path / "safe"))
    assert code == 2 and "not empty" in err


def test_every_command_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        assert p.format_help().startswith("usage: gan3d " + name.split()[0]), name


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "gan3d.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "generate" in out.stdout


def test_catalogued_models_without_their_plugin_say_what_to_install(capsys, monkeypatch):
    from gan3d import catalog

    monkeypatch.setitem(catalog.KNOWN, "zzz", ("gan3d-zzz", ("v1",)))
    code, out, _ = run(capsys, "models")
    assert "zzz/v1" in out and "pip install ./plugins/gan3d-zzz" in out
    code, _, err = run(capsys, "info", "zzz/v1")
    assert code == 2 and "gan3d-zzz plugin, which is not installed" in err


def test_generate_semantic_row(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "toy/sphere", "--seeds", "0", "--yaw", "0", "--semantic", "--out", str(tmp_path))
    assert code == 0, err
    img = np.asarray(Image.open(tmp_path / "seed0000.png"))
    assert img.shape == (128, 64, 3)  # image row + label row
    labels = img[64:]
    assert (labels[0, 0] == 0).all() and labels[32, 32].max() > 100  # background black, sphere coloured


def test_method_commands_dispatch_on_the_model_and_refuse_other_methods(capsys):
    import gan3d
    from gan3d import registry

    calls = []

    class Plugin:
        @gan3d.hookimpl
        def gan3d_method_commands(self):
            def add(p):
                p.add_argument("model")
                p.add_argument("--frames", type=int, default=3)
            return [gan3d.MethodCommand("video", "toy", add, lambda a: calls.append((a.model, a.frames)) or 0, "toy orbit")]

    registry.register(Plugin(), name="toy-video")
    try:
        assert run(capsys, "video", "toy/sphere16", "--frames", "5")[0] == 0
        assert calls == [("toy/sphere16", 5)]
        code, _, err = run(capsys, "video", "toy/sphere", "--bogus")
        assert code == 2 and "unrecognized arguments: --bogus" in err
    finally:
        registry.unregister("toy-video")
    code, _, err = run(capsys, "video", "toy/sphere")
    assert code == 2 and "not available for toy models" in err


def test_changed_settings_never_reuse_images_of_older_runs(tmp_path, capsys):
    base = ["generate", "toy/sphere", "--out", str(tmp_path), "--deterministic"]
    assert run(capsys, *base, "--seeds", "0-1")[0] == 0
    old = (tmp_path / "seed0000.png").read_bytes()
    assert run(capsys, *base, "--seeds", "2", "--yaw", "1.0,0,-1.0")[0] == 0
    assert not (tmp_path / "seed0000.png").exists()  # other settings: stale images are gone
    assert run(capsys, *base, "--seeds", "0-2", "--yaw", "1.0,0,-1.0")[0] == 0
    assert (tmp_path / "seed0000.png").read_bytes() != old
