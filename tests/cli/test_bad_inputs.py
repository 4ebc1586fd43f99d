"""Every sub-command with wrong inputs: one clear line, exit 2, no traceback, nothing computed in vain.

The sweep runs in-process (``gan3d.cli.main.main``); cases of a plugin's commands are skipped when that
plugin is not installed. Registered names are enough for them: every case fails before a model loads.
"""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import gan3d
from gan3d import registry
from gan3d.cli.main import main

UNWRITABLE = "/sys/gan3d-cannot-write-here"  # sysfs refuses new entries, even to root

EG3D = "eg3d/shapenetcars128-64"
LIFTED = "liftedgan/ffhq256"
CNERF = "cnerf/ffhq512"
PLUGIN_OF = {"eg3d": "gan3d_eg3d", "liftedgan": "gan3d_liftedgan", "cnerf": "gan3d_cnerf"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle):
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert needle in err, err


@pytest.fixture
def files(tmp_path):
    """Inputs the cases refer to: an existing file, a corrupt .pt, a text file posing as a PNG, a store."""
    existing = tmp_path / "existing.txt"
    existing.write_text("a file, not a folder\n")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 this is not a torch file at all")
    notpng = tmp_path / "grid.png"
    notpng.write_text("not an image")
    refs = tmp_path / "refs"
    refs.mkdir()
    for i in range(2):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(refs / f"{i}.png")
    from gan3d.store import ResultStore

    with ResultStore(tmp_path / "store.sqlite"):
        pass
    return {"FILE": str(existing), "CORRUPT": str(corrupt), "NOTPNG": str(notpng), "REFS": str(refs),
            "STORE": str(tmp_path / "store.sqlite"), "OUT": str(tmp_path / "out")}


# (argv, text the one-line error must hold); FILE, CORRUPT, NOTPNG, REFS, STORE, OUT are filled in per test
CASES = [
    # generate
    (["generate", "toy/spere"], "did you mean 'toy/sphere'"),
    (["generate", "toy/sphere", "--trunc", "5"], "--trunc must be a number in [-1, 2]"),
    (["generate", "toy/sphere", "--fov", "0"], "--fov must be degrees"),
    (["generate", "toy/sphere", "--trunc-cutoff", "99"], "--trunc-cutoff must be an integer in [0, 1]"),
    (["generate", "toy/sphere", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["generate", "toy/sphere", "--device", "mps"], "MPS is not available"),
    (["generate", "toy/sphere", "--device", "gpu7"], "unknown device 'gpu7'"),
    (["generate", "toy/sphere", "--out", "FILE"], "is an existing file"),
    (["generate", "toy/sphere", "--out", UNWRITABLE], f"cannot write to --out '{UNWRITABLE}'"),
    (["generate", "toy/sphere", "--radius", "1.7"], "rays miss the scene; use a --radius"),
    (["generate", "toy/sphere", "--latents", "missing.pt"], "does not exist"),
    (["generate", "toy/sphere", "--latents", "CORRUPT"], "is not a gan3d latent file"),
    (["generate", "toy/sphere", "--latents", "CORRUPT", "--seeds", "0"], "not both"),
    (["generate", "toy/sphere", "--random-weights", "--weights", "FILE"], "only one of"),
    # compare
    (["compare", "toy/sphere", "--tile", "8"], "--tile must be at least 16, got 8"),
    (["compare", "toy/sphere", "--frames", "-1"], "--frames must be at least 0"),
    (["compare", "toy/sphere", "--trunc", "3"], "--trunc must be"),
    (["compare", "toy/sphere", "--out", "FILE"], "is an existing file"),
    (["compare", "toy/sphere", "--out", UNWRITABLE], "cannot write"),
    (["compare", "toy/sphere", "--device", "mps"], "MPS is not available"),
    (["compare", "toy/sphere", "--latents", "CORRUPT"], "is not a gan3d latent file"),
    # evaluate
    (["evaluate", "toy/sphere", "--metrics", "pose", "--seed", "-1"], "--seed must be at least 0"),
    (["evaluate", "toy/sphere", "--metrics", "pose", "--trunc", "5"], "--trunc must be a number in [-1, 2]"),
    (["evaluate", "toy/sphere", "--metrics", "pose", "--camera-seed", "-1"], "--camera-seed must be at least 0"),
    (["evaluate", "toy/sphere", "--metrics", "fid", "--ref", "REFS", "--ref-num", "0"], "--ref-num must be at least 1"),
    (["evaluate", "toy/sphere", "--metrics", "fid", "--ref", "REFS", "--ref-num", "-1"], "--ref-num must be at least 1"),
    (["evaluate", "toy/sphere", "--metrics", "fid", "--ref", "REFS", "--fid-network", "CORRUPT"],
     "is not a TorchScript network"),
    (["evaluate", "toy/sphere", "--metrics", "pose", "--out", f"{UNWRITABLE}/r.json"], "cannot write"),
    (["evaluate", "toy/sphere", "--metrics", "pose", "--out", "REFS"], "is a folder"),
    (["evaluate", "toy/sphere", "--metrics", "pose", "--device", "mps"], "MPS is not available"),
    # leaderboard
    (["leaderboard", "--store", "STORE", "--grid", "NOTPNG", "--format", "html"], "is not a PNG image"),
    (["leaderboard", "--store", "STORE", "--out", f"{UNWRITABLE}/board.html"], "cannot write"),
    # weights
    (["weights", "verify", EG3D], "not in the cache"),
    (["weights", "convert", "toy/sphere", UNWRITABLE], "cannot write"),
    (["weights", "convert", "toy/sphere", "FILE"], "is an existing file"),
    (["weights", "add", "CORRUPT", "--model", EG3D], "is not a eg3d/shapenetcars128-64 checkpoint, nothing was added"),
    # info
    (["info", "eg3d/ffhq512-12"], "did you mean 'eg3d/ffhq512-128'"),
    (["info", "eg3d"], "is a method, not a model"),
    (["info", "liftedgan/ffhq25"], "did you mean 'liftedgan/ffhq256'"),
    (["info", "cnerf/ffhq51"], "did you mean 'cnerf/ffhq512'"),
    # EG3D's commands
    (["video", EG3D, "--fps", "0"], "--fps must be a positive number"),
    (["video", EG3D, "--fps", "-1"], "--fps must be a positive number"),
    (["video", EG3D, "--frames", "0"], "--frames must be at least 1"),
    (["video", EG3D, "--trunc", "9"], "--trunc must be"),
    (["video", EG3D, "--device", "mps"], "MPS is not available"),
    (["video", EG3D, "--out", "FILE"], "is an existing file"),
    (["shape", EG3D, "--level", "nan"], "--level must be a finite number"),
    (["shape", EG3D, "--out", UNWRITABLE], "cannot write"),
    (["sweep", EG3D, "--dims", "x"], "bad --dims"),
    (["sweep", EG3D, "--out", "FILE"], "is an existing file"),
    (["inspect", EG3D, "--nrr", "0"], "--nrr must be at least 1"),
    (["inspect", EG3D, "--out", UNWRITABLE], "cannot write"),
    # LiftedGAN's commands
    (["video", LIFTED, "--interp", "a,b"], "bad seed spec 'a'"),
    (["video", LIFTED, "--interp", "1"], "--interp takes two seeds"),
    (["video", LIFTED, "--fps", "0"], "--fps must be a positive number"),
    (["video", LIFTED, "--fps", "-1"], "--fps must be a positive number"),
    (["video", LIFTED, "--out", "FILE"], "is an existing file"),
    (["inspect", LIFTED, "--seeds", "x"], "bad seed spec"),
    # CNeRF's commands
    (["video", CNERF, "--trunc", "5"], "--trunc must be"),
    (["video", CNERF, "--video"], "unrecognized arguments: --video"),
    (["regions", CNERF, "--tile", "8"], "--tile must be at least 16"),
    (["regions", CNERF, "--out", UNWRITABLE], "cannot write"),
    (["edit", CNERF, "--region", "nose", "--direction", "CORRUPT"], "is not a readable direction file"),
    (["edit", CNERF, "--region", "nostril", "--from-seed", "1"], "mouth"),
    (["cnerf-sweep", CNERF, "--seeds", "x"], "bad seed spec"),
    # demo
    (["demo", "--yaw", "a"], "bad yaw list"),
]


def _needs(argv) -> str | None:
    for a in argv:
        method = str(a).split("/", 1)[0]
        if method in PLUGIN_OF and "/" in str(a) and importlib.util.find_spec(PLUGIN_OF[method]) is None:
            return PLUGIN_OF[method]
    if argv[0] in ("shape", "sweep") and importlib.util.find_spec("gan3d_eg3d") is None:
        return "gan3d_eg3d"
    if argv[0] in ("regions", "edit", "cnerf-sweep") and importlib.util.find_spec("gan3d_cnerf") is None:
        return "gan3d_cnerf"
    return None


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_wrong_input_is_one_line_exit_2_and_loads_no_model(argv, needle, files, capsys, monkeypatch):
    if (missing := _needs(argv)) is not None:
        pytest.skip(f"needs the {missing} plugin")
    argv = [files.get(a, a) for a in argv]

    real_load = registry.load

    def toy_only(name, *a, **k):  # the large models' cases must fail on their input, before the model is built
        assert str(name).startswith("toy/"), f"{name} was loaded before the input was checked"
        return real_load(name, *a, **k)

    if argv[0] not in ("weights", "info", "models"):
        monkeypatch.setattr(registry, "load", toy_only)
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, needle)
    assert ".part" not in err  # the user's own path, not a temporary file


# ---------------------------------------------------------------------------------------------- item 2
def test_a_missing_plugin_still_gets_install_advice(monkeypatch, capsys):
    monkeypatch.setenv("GAN3D_DISABLE_PLUGINS", "1")
    registry.reset()
    try:
        code, _, err = run(capsys, "info", "eg3d/ffhq512-128")
        assert_one_line_error(code, err, "pip install ./plugins/gan3d-eg3d")
    finally:
        monkeypatch.delenv("GAN3D_DISABLE_PLUGINS")
        registry.reset()


@pytest.mark.skipif(importlib.util.find_spec("gan3d_eg3d") is None, reason="needs the EG3D plugin")
def test_a_typo_in_an_installed_method_gets_no_install_advice(capsys):
    code, _, err = run(capsys, "info", "eg3d/ffhq512-12")
    assert code == 2 and "not installed" not in err and "pip install" not in err


# ---------------------------------------------------------------------------------------------- item 3
@pytest.mark.skipif(importlib.util.find_spec("gan3d_eg3d") is None, reason="needs the EG3D plugin")
def test_weights_add_refuses_a_foreign_file_and_asks_before_replacing(tmp_path, capsys):
    fake = tmp_path / "shapenetcars128-64.pkl"
    fake.write_text("this is not a checkpoint\n")
    code, _, err = run(capsys, "weights", "add", fake, "--model", EG3D)
    assert_one_line_error(code, err, "nothing was added")
    code, out, _ = run(capsys, "models", EG3D)
    assert code == 0 and "not cached" in out
    dest = gan3d.cache.weights_dir(gan3d.model_card(EG3D)) / "shapenetcars128-64.pkl"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"already here")
    code, _, err = run(capsys, "weights", "add", fake, "--model", EG3D)
    assert_one_line_error(code, err, "--force")
    assert dest.read_bytes() == b"already here"


# ---------------------------------------------------------------------------------------------- item 4
def test_output_paths_are_checked_before_work_and_named_as_given(tmp_path, capsys, monkeypatch):
    from gan3d.images import save_png

    with pytest.raises(OSError) as e:  # the helpers every command writes with name the user's file
        save_png(np.zeros((4, 4, 3), np.uint8), f"{UNWRITABLE}/x.png")
    assert e.value.filename == f"{UNWRITABLE}/x.png"
    monkeypatch.setenv("GAN3D_HOME", UNWRITABLE)
    fake = tmp_path / "w.pkl"
    fake.write_bytes(b"x")
    if importlib.util.find_spec("gan3d_eg3d") is not None:
        code, _, err = run(capsys, "weights", "add", fake, "--model", EG3D)
        assert_one_line_error(code, err, f"cannot write the cache file '{UNWRITABLE}/weights/")


# ---------------------------------------------------------------------------------------------- item 5
def test_device_auto_is_accepted_everywhere(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "toy/sphere", "--seeds", "0", "--yaw", "0", "--device", "auto",
                       "--out", tmp_path / "g")
    assert code == 0, err
    code, _, err = run(capsys, "compare", "toy/sphere", "--seeds", "0", "--yaw", "0", "--frames", "0", "--tile", "16",
                       "--device", "auto", "--out", tmp_path / "c")
    assert code == 0, err


# ---------------------------------------------------------------------------------------------- item 7
@pytest.mark.skipif(importlib.util.find_spec("gan3d_cnerf") is None, reason="needs the CNeRF plugin")
def test_cnerf_video_help_lists_only_working_options(capsys):
    code, out, _ = run(capsys, "video", CNERF, "--help")
    assert code == 0
    assert "--video" not in out and "outputs/video/<model>" in out and "cnerf-sweep" not in out
    code, out, _ = run(capsys, "cnerf-sweep", "--help")
    assert "--video" in out and "outputs/cnerf-sweep/<model>" in out


# ---------------------------------------------------------------------------------------------- item 8
@pytest.mark.parametrize("argv", [
    ["generate", "toy/sphere"], ["compare", "toy/sphere"], ["evaluate", "toy/sphere"],
    ["video", EG3D], ["inspect", EG3D], ["shape", EG3D], ["sweep", EG3D],
    ["video", LIFTED], ["inspect", LIFTED], ["video", CNERF], ["regions", CNERF], ["edit", CNERF],
    ["cnerf-sweep", CNERF],
])
def test_every_command_documents_random_weights(argv, capsys):
    if (missing := _needs(argv)) is not None:
        pytest.skip(f"needs the {missing} plugin")
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0 and "--random-weights" in out and "--random-if-missing" in out


def test_random_weights_are_labelled_on_images_tables_and_results(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "toy/sphere", "--seeds", "0", "--yaw", "0", "--random-weights",
                       "--deterministic", "--out", tmp_path / "g")
    assert code == 0 and "RANDOM WEIGHTS" in err
    img = np.asarray(Image.open(tmp_path / "g" / "seed0000.png"))
    assert img.shape == (64 + 14, 64, 3)  # the view, then its caption strip
    strip = img[64:]
    assert ((strip[..., 0] > 150) & (strip[..., 1] < 80)).any()  # red caption text on white
    out_json = tmp_path / "r.json"
    code, out, err = run(capsys, "evaluate", "toy/sphere", "--metrics", "pose", "--pose-backend", "dlib", "--num", "1",
                         "--random-weights", "--quiet", "--device", "cpu", "--out", out_json)
    assert code == 0, err
    rows = [line for line in out.splitlines()[1:] if line.strip()]
    assert rows and all("RANDOM WEIGHTS" in line for line in rows)
    assert json.loads(out_json.read_text())["weights_note"] == "random weights"


# ---------------------------------------------------------------------------------------------- item 9
def test_out_of_range_yaw_warns_once_with_its_unit(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "toy/sphere", "--seeds", "0", "--yaw", "30", "--pitch", "0",
                       "--deterministic", "--out", tmp_path)
    assert code == 0
    lines = [line for line in err.splitlines() if "was trained on" in line]
    assert len(lines) == 1
    assert "radians" in lines[0] and "1719 degrees" in lines[0] and "0.5236" in lines[0]
    with warnings.catch_warnings(record=True) as caught:  # the generator itself warns once, not per call
        warnings.simplefilter("always")
        code, _, err = run(capsys, "compare", "toy/sphere16", "--seeds", "0-1", "--yaw", "-1:1:5", "--frames", "0",
                           "--tile", "16", "--batch-size", "1", "--out", tmp_path / "c")
    assert code == 0
    assert len([line for line in err.splitlines() if "toy/sphere16 was trained on" in line]) == 1
    assert len([w for w in caught if "toy/sphere16 was trained on" in str(w.message)]) <= 1


# ---------------------------------------------------------------------------------------------- item 12
def test_latents_and_seeds_together_are_refused(tmp_path, capsys):
    path = gan3d.sample_latents(8, [1, 2]).save(tmp_path / "l.pt")
    code, _, err = run(capsys, "generate", "toy/sphere", "--latents", path, "--seeds", "0-3", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "give --seeds or --latents, not both")


def test_errors_start_on_their_own_line_and_name_flags_not_parameters(capsys, monkeypatch):
    from tqdm.auto import tqdm

    import gan3d.cli.models
    from gan3d.errors import InputError

    def fails_mid_bar(args):  # an error raised deep in a model while a progress bar is open
        bar = tqdm(total=10, desc="rendering")
        bar.update(3)
        raise InputError("truncation_psi must be a number in [-1, 2], got 5")

    monkeypatch.setattr(gan3d.cli.models, "run_models", fails_mid_bar)
    code, _, err = run(capsys, "models")
    assert code == 2
    assert [line for line in err.splitlines() if "error:" in line] == [
        "gan3d: error: --trunc must be a number in [-1, 2], got 5"]


def test_a_data_error_in_a_loader_worker_is_one_line(tmp_path, capsys, monkeypatch):
    import gan3d.cli.models
    from gan3d.data import collate, open_dataset

    (tmp_path / "masks").mkdir()
    for i, top in enumerate((1, 12)):  # the second mask holds class 12 of CNeRF's nine
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"i{i}.png")
        Image.fromarray(np.full((8, 8), top, np.uint8)).save(tmp_path / "masks" / f"i{i}.png")

    def trains(args):  # as `gan3d train` reads its data: in DataLoader worker processes
        loader = torch.utils.data.DataLoader(open_dataset(tmp_path), batch_size=2, num_workers=1, collate_fn=collate)
        next(iter(loader))

    monkeypatch.setattr(gan3d.cli.models, "run_models", trains)
    code, _, err = run(capsys, "models")
    assert_one_line_error(code, err, "gan3d: error: mask masks/i1.png has class ids [12] out of range 0..8")
    assert "worker" not in err and "File " not in err


def test_generate_is_reproducible_without_deterministic(tmp_path, capsys):
    for name in ("a", "b"):
        assert run(capsys, "generate", "toy/sphere", "--seeds", "0-1", "--yaw", "0.2", "--pitch", "0",
                   "--out", tmp_path / name)[0] == 0
    for s in (0, 1):
        a, b = ((tmp_path / n / f"seed000{s}.png").read_bytes() for n in ("a", "b"))
        assert a == b
    code, out, _ = run(capsys, "generate", "--help")
    assert "--deterministic" in out and "same command gives the same images" in " ".join(out.split())


def test_missing_weights_name_the_add_command_once(capsys):
    if importlib.util.find_spec("gan3d_eg3d") is None:
        pytest.skip("needs the EG3D plugin")
    with pytest.raises(gan3d.WeightsNotFoundError) as e:
        gan3d.load(EG3D)
    assert str(e.value).count("gan3d weights add") == 1 and "--random-weights" in str(e.value)


def test_gan3d_path_in_the_cache_layout_is_found_and_a_wrong_one_reported(tmp_path, monkeypatch):
    card = gan3d.ModelCard(name="m/v", method="m", dataset="d", resolution=8,
                           camera=gan3d.CameraDefaults(radius=1, focal=1),
                           weights=(gan3d.WeightFile(filename="w.pkl"),))
    home_like = tmp_path / "other_home"
    (home_like / "weights" / "m" / "v").mkdir(parents=True)
    (home_like / "weights" / "m" / "v" / "w.pkl").write_bytes(b"w")
    monkeypatch.setenv("GAN3D_PATH", str(home_like))
    assert gan3d.cache.resolve(card) == {"w.pkl": home_like / "weights" / "m" / "v" / "w.pkl"}
    monkeypatch.setenv("GAN3D_PATH", str(tmp_path / "typo"))
    with pytest.warns(RuntimeWarning, match="GAN3D_PATH lists .*typo.*not a folder"):
        gan3d.cache.search_paths(card, card.weights[0])


@pytest.mark.skipif(importlib.util.find_spec("gan3d_eg3d") is None, reason="needs the EG3D plugin")
def test_shape_help_states_default_format_and_units(capsys):
    code, out, _ = run(capsys, "shape", "--help")
    text = " ".join(out.split())
    assert code == 0 and "PLY mesh (the default)" in text and "voxel units" in text and "world units" in text


def test_models_lists_the_installed_plugins(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "plugins:" in out and "toy (gan3d-toy" in out


def test_run_config_dataset_cameras_error_names_the_config_field(tmp_path, capsys):
    p = tmp_path / "run.toml"
    p.write_text('name = "r"\nmodels = ["toy/sphere"]\nmetrics = ["pose"]\nnum = 1\ncameras = "dataset"\n'
                 f'store = "{tmp_path / "s.sqlite"}"\n')
    code, _, err = run(capsys, "evaluate", p, "--quiet")
    assert code == 2 and 'reference = "PATH"' in err and "--ref" not in err


def test_torchscript_networks_load_without_a_deprecation_warning(tmp_path):
    from gan3d.eval.fid import torchscript_extractor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = torch.jit.script(torch.nn.Conv2d(3, 4, 1))
        torch.jit.save(net, str(tmp_path / "net.pt"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torchscript_extractor(tmp_path / "net.pt")
    assert not [w for w in caught if "deprecated" in str(w.message)]
