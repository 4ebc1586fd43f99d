"""The procedural head world: determinism, cameras, masks, depth, smile and yaw against the truth."""

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan3d import Camera
from gan3d.cli.main import main
from gan3d.data import CNERF_CLASSES, open_dataset
from gan3d.data.synth import DEPTH_SCALE, render, scenes, write_dataset
from gan3d.data.synth.heads import EYES, FACE, MOUTH, NOSE
from gan3d.errors import InputError


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on shared cores, OpenMP threads that lose their core spin-wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "w.zip"
    torch.set_num_threads(1)
    write_dataset(path, 6, 64, seed=3, progress=False, workers=0)
    return path


def _read(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(zf.read(name))))


def test_same_seed_gives_identical_bytes_and_longer_runs_extend_shorter(world, tmp_path):
    again = tmp_path / "again.zip"
    write_dataset(again, 6, 64, seed=3, progress=False, workers=0)
    assert again.read_bytes() == world.read_bytes()
    parallel = tmp_path / "parallel.zip"  # worker processes render the batches: same file
    write_dataset(parallel, 6, 64, seed=3, progress=False, workers=2)
    assert parallel.read_bytes() == world.read_bytes()
    short = tmp_path / "short.zip"
    write_dataset(short, 2, 64, seed=3, progress=False, workers=0)
    other = tmp_path / "other.zip"
    write_dataset(other, 2, 64, seed=4, progress=False, workers=0)
    with zipfile.ZipFile(world) as a, zipfile.ZipFile(short) as b, zipfile.ZipFile(other) as c:
        for name in ("00000/img00000000.png", "masks/00000/img00000001.png", "depth/00000/img00000001.png"):
            assert a.read(name) == b.read(name)
        assert a.read("00000/img00000000.png") != c.read("00000/img00000000.png")
        assert {i.date_time for i in a.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_labels_are_the_true_cameras(world):
    with zipfile.ZipFile(world) as zf:
        meta = json.loads(zf.read("dataset.json"))
    labels = torch.tensor([lab for _, lab in meta["labels"]])
    assert [n for n, _ in meta["labels"]] == [t["file"] for t in meta["truth"]]
    R = labels[:, :16].reshape(-1, 4, 4)[:, :3, :3].double()
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(len(R), 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(len(R), dtype=torch.float64), atol=1e-5)
    yaw = [t["yaw"] for t in meta["truth"]]
    pitch = [t["pitch"] for t in meta["truth"]]
    expect = Camera.orbit(yaw, pitch, radius=2.7, focal=4.2647, look_at=(0, 0, 0.2)).to_eg3d_label()
    assert torch.allclose(labels, expect, atol=1e-6)
    assert len(set(yaw)) == len(yaw)  # every sample has its own camera
    assert meta["truth"][2]["identity"] == 2 and len(meta["truth"][2]["params"]) == len(meta["identity_params"])


def test_masks_use_cnerf_classes_and_show_the_face_parts(world):
    with zipfile.ZipFile(world) as zf:
        meta = json.loads(zf.read("dataset.json"))
        masks = np.stack([_read(zf, f"masks/{n}") for n, _ in meta["labels"]])
    assert meta["mask_classes"] == list(CNERF_CLASSES)
    assert masks.dtype == np.uint8 and masks.shape == (6, 64, 64) and masks.max() < len(CNERF_CLASSES)
    frontal = [i for i, t in enumerate(meta["truth"]) if abs(t["yaw"]) < 0.4]
    assert frontal
    for i in frontal:
        assert {0, FACE, EYES, MOUTH, NOSE} <= set(np.unique(masks[i]).tolist())
    ds = open_dataset(world, require_labels=True, require_masks=True)
    assert len(ds) == 6 and ds.num_classes == 9 and ds.resolution == 64
    assert torch.equal(ds[1]["mask"], torch.from_numpy(masks[1]))


def test_depth_is_the_camera_z_on_the_head_and_zero_elsewhere(world):
    with zipfile.ZipFile(world) as zf:
        meta = json.loads(zf.read("dataset.json"))
        name = meta["labels"][0][0]
        depth = _read(zf, f"depth/{name}").astype(np.float64) * meta["depth"]["scale"]
        mask = _read(zf, f"masks/{name}")
    assert meta["depth"]["scale"] == DEPTH_SCALE
    head = mask > 0
    assert np.array_equal(depth > 0, head)
    # the orbit camera is 2.7 from the origin; the head lies within about 0.45 of it
    assert 2.2 < depth[head].min() and depth[head].max() < 3.2
    # the nose is nearer the camera than the rest of the face
    s = scenes([0], seed=3)
    r = render(s.views([0.0]), 64)
    d, m = r.depth[0], r.mask[0]
    assert torch.isfinite(d).all()
    assert d[m == NOSE].mean() < d[m == FACE].mean()


def _centroid_x(mask: torch.Tensor, cls: int) -> float:
    ys, xs = torch.nonzero(mask == cls, as_tuple=True)
    return xs.float().mean().item()


def test_yaw_turns_the_head_the_way_the_camera_convention_says():
    s = scenes([1], seed=0).views([-0.6, 0.0, 0.6], pitch=0.0)
    r = render(s, 64)
    offset = [_centroid_x(r.mask[k], NOSE) - _centroid_x(r.mask[k], FACE) for k in range(3)]
    # positive yaw: camera towards world +x, the face turns towards the image's left
    assert offset[0] > 1.0 > abs(offset[1]) and offset[2] < -1.0


def test_smile_lifts_and_widens_the_mouth():
    base = scenes([5], seed=0).views([0.0], pitch=0.0)
    out = {}
    for smile in (0.0, 1.0):
        base.smile = torch.tensor([smile], dtype=torch.float64)
        out[smile] = render(base, 128)
    m0, m1 = out[0.0].mask[0] == MOUTH, out[1.0].mask[0] == MOUTH
    cols0, cols1 = torch.nonzero(m0.any(0)).squeeze(1), torch.nonzero(m1.any(0)).squeeze(1)
    assert (cols1.max() - cols1.min()) > (cols0.max() - cols0.min()) + 3  # wider
    # the corners (outermost mouth columns) sit higher (smaller row) relative to the mouth's middle
    def corner_lift(m, cols):
        rows = torch.arange(m.shape[0]).float()
        centre_row = lambda c: rows[m[:, c]].mean()  # noqa: E731
        mid = centre_row((cols.min() + cols.max()) // 2)
        return mid - (centre_row(cols.min() + 1) + centre_row(cols.max() - 1)) / 2
    assert corner_lift(m1, cols1) > corner_lift(m0, cols0) + 1.0
    # everything away from the mouth stays the same
    diff = (out[0.0].image[0].float() - out[1.0].image[0].float()).abs().sum(0) > 0
    near = torch.nn.functional.max_pool2d((m0 | m1)[None, None].float(), 9, 1, 4)[0, 0] > 0
    assert diff.any() and not (diff & ~near).any()


def test_frontal_faces_are_found_by_mtcnn():
    pytest.importorskip("facenet_pytorch")
    from gan3d.eval.faces import MtcnnDetector

    s = scenes(range(4), seed=0).views([0.0, 0.35], pitch=0.0)
    faces = MtcnnDetector().detect(render(s, 128).image.permute(0, 2, 3, 1).numpy())
    assert faces.found.all()


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match="64, 128, 256"):
        write_dataset("unused.zip", 2, 100)
    with pytest.raises(InputError, match="num"):
        write_dataset("unused.zip", 0, 64)


def test_cli_writes_the_world_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "w.zip"
    assert main(["dataset", "synth", "--num", "2", "--res", "64", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with zipfile.ZipFile(out) as zf:
        assert len(json.loads(zf.read("dataset.json"))["labels"]) == 2
    for argv, needle in ((["--out", str(out)], "--force"), (["--out", str(tmp_path / "x.zip"), "--res", "100"], "64, 128, 256")):
        code = main(["dataset", "synth", "--num", "2", *argv])
        err = capsys.readouterr().err
        assert code == 2 and needle in err and "Traceback" not in err
    first = out.read_bytes()
    assert main(["dataset", "synth", "--num", "2", "--seed", "1", "--out", str(out), "--force"]) == 0
    assert out.read_bytes() != first
