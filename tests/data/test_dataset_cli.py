"""``gan3d dataset make | info | mirror | celebamask``, in-process as a user would type them."""

import io
import json
import zipfile

import numpy as np
import torch
from data_helpers import eg3d_zip, labels_for, picture, png, write_folder, write_zip
from PIL import Image

import gan3d
from gan3d.cli.main import main
from gan3d.data import CNERF_CLASSES, mirror_labels, open_dataset


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, needle):
    assert code == 2, err
    assert needle in err and "Traceback" not in err
    assert len([line for line in err.strip().splitlines() if line.startswith("gan3d")]) == 1


def test_make_writes_an_eg3d_zip_from_a_folder_and_labels(tmp_path, capsys):
    folder = write_folder(tmp_path / "photos", labels=False, masks=True)
    names = [f"sub/im{i}.png" for i in range(4)]
    cams = labels_for(names)
    (tmp_path / "cams.json").write_text(json.dumps(cams))  # {relpath: [25]}
    out = tmp_path / "out" / "data.zip"
    code, stdout, err = run(capsys, "dataset", "make", folder, "--labels", tmp_path / "cams.json", "--out", out,
                            "--res", 8)
    assert code == 0, err
    assert f"wrote {out}" in stdout and "implausible" not in stdout
    with zipfile.ZipFile(out) as zf:
        assert "00000/img00000003.png" in zf.namelist() and "masks/00000/img00000003.png" in zf.namelist()
    ds = open_dataset(out, require_labels=True, require_masks=True)
    assert len(ds) == 4 and ds.resolution == 8
    assert torch.allclose(ds.labels(), torch.tensor([cams[n] for n in names]))
    assert ds[1]["mask"].shape == (8, 8) and set(ds[1]["mask"].unique().tolist()) <= {0, 1, 8}

    # refuses to overwrite, then does with --force; dataset.json form of the labels is accepted too
    one_line_error(*run(capsys, "dataset", "make", folder, "--labels", tmp_path / "cams.json", "--out", out)[::2],
                   "exists; pass --force")
    (tmp_path / "cams2.json").write_text(json.dumps({"labels": [[k, v] for k, v in cams.items()]}))
    code, _, err = run(capsys, "dataset", "make", folder, "--labels", tmp_path / "cams2.json", "--out", out,
                       "--force")
    assert code == 0, err
    assert open_dataset(out).resolution == 16


def test_make_refuses_bad_inputs_before_writing(tmp_path, capsys):
    folder = write_folder(tmp_path / "photos", labels=False)
    cams = labels_for([f"sub/im{i}.png" for i in range(3)])  # one image lacks a label
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    out = tmp_path / "data.zip"
    code, _, err = run(capsys, "dataset", "make", folder, "--labels", tmp_path / "cams.json", "--out", out)
    one_line_error(code, err, "no camera label for sub/im3.png")
    assert not out.exists() and not list(tmp_path.glob(".data.zip*"))  # nothing half-written left behind
    short = {k: v[:24] for k, v in labels_for([f"sub/im{i}.png" for i in range(4)]).items()}
    (tmp_path / "short.json").write_text(json.dumps(short))
    one_line_error(*run(capsys, "dataset", "make", folder, "--labels", tmp_path / "short.json", "--out", out)[::2],
                   "label of sub/im0.png has 24 numbers")
    (tmp_path / "blocker").write_text("a file, not a folder")
    one_line_error(*run(capsys, "dataset", "make", folder, "--out", tmp_path / "blocker" / "d.zip")[::2],
                   "cannot write --out")
    one_line_error(*run(capsys, "dataset", "make", tmp_path / "nope", "--out", out)[::2], "does not exist")
    (folder / "sub" / "im2.png").write_bytes(png(picture(2, 8)))
    one_line_error(*run(capsys, "dataset", "make", folder, "--out", out)[::2],
                   "mixed sizes: sub/im0.png gives 16x16, sub/im2.png gives 8x8; pass --res")
    assert run(capsys, "dataset", "make", folder, "--out", out, "--res", 8)[0] == 0


def test_make_crops_wide_images_or_refuses_them(tmp_path, capsys):
    folder = tmp_path / "wide"
    folder.mkdir()
    for i in range(2):
        (folder / f"w{i}.png").write_bytes(png(picture(i, 16, width=24)))
    cams = labels_for(["w0.png", "w1.png"])
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    one_line_error(*run(capsys, "dataset", "make", folder, "--labels", tmp_path / "cams.json", "--out",
                        tmp_path / "a.zip", "--crop", "none")[::2], "not square; pass --crop center")
    code, _, err = run(capsys, "dataset", "make", folder, "--labels", tmp_path / "cams.json", "--out",
                       tmp_path / "a.zip")
    assert code == 0, err
    ds = open_dataset(tmp_path / "a.zip")
    assert ds.resolution == 16 and ds.labels()[0, 16] == torch.tensor(cams["w0.png"][16] * 24 / 16)


def test_info_reports_counts_classes_labels_and_poses(tmp_path, capsys):
    path = eg3d_zip(tmp_path / "d.zip", masks=True)
    code, out, err = run(capsys, "dataset", "info", path, "--png", tmp_path / "hist.png")
    assert code == 0, err
    assert "images      4" in out and "resolution  16x16" in out and "yes (EG3D cameras)" in out
    # mask(): half face, the top-left 2x2 of the face half neck+cloth (8), the rest background
    assert "1 face" in out and f"{100 * (128 - 4) / 256:6.2f}%" in out and f"{100 * 4 / 256:6.2f}%" in out
    assert "yaw         -28.6 .. 17.2 deg" in out and "all cameras plausible" in out
    hist = np.asarray(Image.open(tmp_path / "hist.png"))
    assert hist.ndim == 3 and hist.shape[0] > 100 and hist.std() > 10  # a real picture, not a blank
    code, out, _ = run(capsys, "dataset", "info", path, "--json")
    info = json.loads(out)
    assert info["num_images"] == 4 and info["classes"] == list(CNERF_CLASSES) and sum(info["class_share"]) == 1.0
    poses = info["poses"]
    assert abs(poses["yaw_min"] - np.degrees(-0.5)) < 1e-3 and abs(poses["yaw_max"] - np.degrees(0.3)) < 1e-3
    assert abs(poses["pitch_max"] - np.degrees(0.1)) < 1e-3 and info["label_problems"] == []


def test_info_names_each_bad_label(tmp_path, capsys):
    names = ["a.png", "b.png", "c.png"]
    labels = labels_for(names)
    labels["b.png"][0] = 3.0  # not a rotation
    labels["c.png"][18] = 256.0  # principal point in pixels
    files = {n: png(picture(i)) for i, n in enumerate(names)}
    files["dataset.json"] = json.dumps({"labels": [[k, v] for k, v in labels.items()]}).encode()
    code, out, err = run(capsys, "dataset", "info", write_zip(tmp_path / "d.zip", files))
    assert code == 0, err
    assert "2 implausible camera labels" in out
    assert "b.png: cam2world rotation is not orthonormal" in out
    assert "c.png: principal point (256, 0.5) is not near the image centre" in out
    assert "a.png:" not in out
    one_line_error(*run(capsys, "dataset", "info", write_folder(tmp_path / "plain", labels=False), "--png",
                        tmp_path / "h.png")[::2], "no camera labels")


def test_info_checks_the_png_location_before_reading_the_data(tmp_path, capsys, monkeypatch):
    import gan3d.data.summary

    def no_work(*a, **k):
        raise AssertionError("the data set was summarised before --png was checked")

    monkeypatch.setattr(gan3d.data.summary, "summarize", no_work)
    path = eg3d_zip(tmp_path / "d.zip", masks=True)
    one_line_error(*run(capsys, "dataset", "info", path, "--png", "/sys/gan3d-cannot-write-here/h.png")[::2],
                   "cannot write --png '/sys/gan3d-cannot-write-here/h.png'")
    one_line_error(*run(capsys, "dataset", "info", write_folder(tmp_path / "plain", labels=False), "--png",
                        tmp_path / "h.png")[::2], "no camera labels")


def test_mirror_adds_flipped_copies_with_mirrored_labels(tmp_path, capsys):
    src = eg3d_zip(tmp_path / "d.zip", masks=True)
    out = tmp_path / "m.zip"
    code, stdout, err = run(capsys, "dataset", "mirror", src, "--out", out)
    assert code == 0, err
    assert "4 mirrored copies added" in stdout
    ds = open_dataset(out, require_labels=True, require_masks=True)
    assert len(ds) == 8
    i, j = ds.image_names.index("00000/img00000001.png"), ds.image_names.index("00000/img00000001_mirror.png")
    a, b = ds[i], ds[j]
    assert torch.equal(b["image"], a["image"].flip(-1)) and torch.equal(b["mask"], a["mask"].flip(-1))
    assert torch.allclose(b["label"], mirror_labels(a["label"]))
    yaw, _ = gan3d.Camera.from_eg3d_label(torch.stack([a["label"], b["label"]])).yaw_pitch()
    assert yaw[1] == -yaw[0] and yaw[0] != 0
    # mirroring a mirrored set adds nothing; an existing output needs --force; unlabelled input is refused
    code, stdout, _ = run(capsys, "dataset", "mirror", out, "--out", tmp_path / "mm.zip")
    assert code == 0 and "0 mirrored copies" in stdout and len(open_dataset(tmp_path / "mm.zip")) == 8
    one_line_error(*run(capsys, "dataset", "mirror", src, "--out", out)[::2], "--force")
    one_line_error(*run(capsys, "dataset", "mirror", write_folder(tmp_path / "plain", labels=False), "--out",
                        tmp_path / "p.zip")[::2], "no camera labels")


def test_celebamask_conversion(tmp_path, capsys):
    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    (root / "CelebAMask-HQ-mask-anno" / "0").mkdir(parents=True)
    for k in range(2):
        Image.fromarray(picture(k, 32)).save(root / "CelebA-HQ-img" / f"{k}.jpg")
        skin = np.zeros((16, 16), np.uint8)
        skin[4:12, 4:12] = 255
        nose = np.zeros((16, 16), np.uint8)
        nose[7:9, 7:9] = 255  # painted after skin: wins where they overlap
        Image.fromarray(skin).save(root / "CelebAMask-HQ-mask-anno" / "0" / f"{k:05d}_skin.png")
        Image.fromarray(np.stack([nose] * 3, -1)).save(root / "CelebAMask-HQ-mask-anno" / "0" / f"{k:05d}_nose.png")
    code, out, err = run(capsys, "dataset", "celebamask", root, "--out", tmp_path / "c.zip", "--res", 16)
    assert code == 0, err
    ds = open_dataset(tmp_path / "c.zip", require_masks=True)
    assert len(ds) == 2 and ds.resolution == 16 and not ds.has_labels
    m = ds[1]["mask"]
    assert m[8, 8] == CNERF_CLASSES.index("nose") and m[5, 5] == CNERF_CLASSES.index("face") and m[0, 0] == 0
    one_line_error(*run(capsys, "dataset", "celebamask", tmp_path, "--out", tmp_path / "x.zip")[::2],
                   "is not CelebAMask-HQ")


def test_dataset_without_action_prints_help(capsys):
    code, out, _ = run(capsys, "dataset")
    assert code == 2 and "make" in out and "mirror" in out


def test_mirror_flips_16_bit_depth_maps(tmp_path, capsys):
    depth = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 200)
    buf = io.BytesIO()
    Image.fromarray(depth).save(buf, format="PNG")
    src = eg3d_zip(tmp_path / "d.zip", n=1)
    with zipfile.ZipFile(src, "a") as zf:
        zf.writestr("depth/00000/img00000000.png", buf.getvalue())
    code, _, err = run(capsys, "dataset", "mirror", src, "--out", tmp_path / "m.zip")
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        flipped = np.asarray(Image.open(io.BytesIO(zf.read("depth/00000/img00000000_mirror.png"))))
    assert flipped.dtype == np.uint16 and depth.max() > 255
    np.testing.assert_array_equal(flipped, depth[:, ::-1])
    one_line_error(*run(capsys, "dataset", "mirror", src, "--out", src)[::2], "must differ from the input")

