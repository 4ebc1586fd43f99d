"""The data-set readers: EG3D zips and folders, mask pairs, plain folders, mirroring, errors, synth specs."""

import json
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from data_helpers import YAWS, eg3d_zip, labels_for, mask, picture, png, write_folder, write_zip

import gan3d
from gan3d.data import (CELEBAMASK_CLASSES, CNERF_CLASSES, InfiniteSampler, celebamask_to_cnerf, cnerf_channels,
                        collate, label_problems, mirror_labels, open_dataset)
from gan3d.data.datasets import build_synth, parse_synth_spec, synth_path
from gan3d.errors import DatasetError, InputError
from gan3d.train import Batch, DataInfo


def test_eg3d_zip_gives_images_labels_and_masks(tmp_path):
    ds = open_dataset(eg3d_zip(tmp_path / "d.zip", masks=True), require_labels=True, require_masks=True)
    assert len(ds) == 4 and ds.resolution == 16 and ds.name == "d"
    assert ds.has_labels and ds.has_masks and ds.num_classes == len(CNERF_CLASSES)
    item = ds[2]
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 16, 16)
    assert torch.equal(item["image"], torch.from_numpy(picture(2)).permute(2, 0, 1))
    assert item["mask"].dtype == torch.uint8 and torch.equal(item["mask"], torch.from_numpy(mask()))
    want = torch.tensor(labels_for([f"00000/img{i:08d}.png" for i in range(4)])["00000/img00000002.png"])
    assert item["label"].dtype == torch.float32 and torch.allclose(item["label"], want)
    yaw, _ = gan3d.Camera.from_eg3d_label(ds.labels()).yaw_pitch()
    assert torch.allclose(yaw, torch.tensor(YAWS), atol=1e-5)
    info = ds.info()
    assert isinstance(info, DataInfo)
    assert (info.resolution, info.num_images, info.has_labels, info.num_classes) == (16, 4, True, 9)
    assert info.labels.shape == (4, 25)


def test_folder_reads_like_its_zip(tmp_path):
    folder = write_folder(tmp_path / "f", masks=True)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    zipped = open_dataset(write_zip(tmp_path / "f.zip", files))
    plain = open_dataset(folder)
    assert plain.image_names == ["sub/im0.png", "sub/im1.png", "sub/im2.png", "sub/im3.png"]  # masks/ is not images
    for i in range(4):
        a, b = plain[i], zipped[i]
        assert all(torch.equal(a[k], b[k]) for k in ("image", "label", "mask"))


def test_plain_folder_has_no_labels_or_masks(tmp_path):
    ds = open_dataset(write_folder(tmp_path / "plain", labels=False))
    assert not ds.has_labels and not ds.has_masks and ds.num_classes is None
    assert ds[0]["label"] is None and ds[0]["mask"] is None and ds.labels() is None
    with pytest.raises(DatasetError, match=r"plain has no dataset.json.*required"):
        open_dataset(tmp_path / "plain", require_labels=True)
    with pytest.raises(DatasetError, match="has no masks"):
        open_dataset(tmp_path / "plain", require_masks=True)


def test_xflip_mirrors_image_mask_and_camera(tmp_path):
    ds = open_dataset(eg3d_zip(tmp_path / "d.zip", masks=True), xflip=True)
    assert len(ds) == 8 and ds.labels().shape == (8, 25)
    for i in range(4):
        a, b = ds[i], ds[4 + i]
        assert torch.equal(b["image"], a["image"].flip(-1)) and torch.equal(b["mask"], a["mask"].flip(-1))
        assert torch.allclose(b["label"], mirror_labels(a["label"]))
        assert torch.allclose(ds.labels()[4 + i], b["label"])
    assert ds[4]["image"][0, 0, -1] == 200 and ds[4]["image"][0, 0, 0] == 0  # bright half moved to the right
    yaw, pitch = gan3d.Camera.from_eg3d_label(ds.labels()).yaw_pitch()
    assert torch.allclose(yaw[4:], -yaw[:4], atol=1e-5) and torch.allclose(pitch[4:], pitch[:4], atol=1e-5)
    assert ds.item_name(5) == "00000/img00000001.png (mirrored)"


def test_label_mirror_is_an_involution_and_negates_yaw():
    cams = gan3d.Camera.orbit(yaw=[-0.9, -0.1, 0.0, 0.7], pitch=[-0.3, 0.0, 0.2, 0.4], look_at=(0, 0, 0.2))
    labels = cams.to_eg3d_label()
    mirrored = mirror_labels(labels)
    assert torch.allclose(mirror_labels(mirrored), labels)
    assert not torch.allclose(mirrored[0], labels[0])
    yaw, pitch = gan3d.Camera.from_eg3d_label(mirrored).yaw_pitch()
    assert torch.allclose(yaw, torch.tensor([0.9, 0.1, 0.0, -0.7]), atol=1e-5)
    assert torch.allclose(pitch, torch.tensor([-0.3, 0.0, 0.2, 0.4]), atol=1e-5)
    assert torch.equal(mirrored[:, 16:], labels[:, 16:])  # intrinsics untouched
    assert all(label_problems(m) == [] for m in mirrored)  # still a rotation, not a reflection
    assert mirror_labels(labels[0]).shape == (25,)


def test_label_checks_name_what_is_wrong():
    good = gan3d.Camera.orbit(yaw=0.2).to_eg3d_label()[0]
    assert label_problems(good) == []
    skewed = good.clone()
    skewed[0] = 2.0
    assert "not orthonormal" in label_problems(skewed)[0]
    reflected = good.clone()
    reflected[[0, 4, 8]] *= -1
    assert any("reflection" in p for p in label_problems(reflected))
    pixels = good.clone()
    pixels[[18, 21]] = 256.0  # principal point in pixels of a 512 image
    assert any("principal point" in p for p in label_problems(pixels))
    negative = good.clone()
    negative[16] = -1.0
    assert any("focal lengths must be positive" in p for p in label_problems(negative))
    bottom = good.clone()
    bottom[12] = 0.5
    assert any("last row" in p for p in label_problems(bottom))
    assert "24 numbers" in label_problems(good[:24])[0]


def test_resolution_resizes_images_and_masks(tmp_path):
    ds = open_dataset(eg3d_zip(tmp_path / "d.zip", masks=True), resolution=8)
    item = ds[0]
    assert ds.resolution == 8 and item["image"].shape == (3, 8, 8) and item["mask"].shape == (8, 8)
    assert set(item["mask"].unique().tolist()) <= {0, 1, 8}  # nearest: no blended ids
    assert item["image"][0, :, :3].float().mean() > 150 and item["image"][0, :, 5:].float().mean() < 50


def test_non_square_images_are_cropped_with_intrinsics_renormalised(tmp_path):
    names = ["a.png", "b.png"]
    labels = labels_for(names)
    files = {n: png(picture(i, 16, width=24)) for i, n in enumerate(names)}
    files["dataset.json"] = json.dumps({"labels": [[k, v] for k, v in labels.items()]}).encode()
    path = write_zip(tmp_path / "wide.zip", files)
    with pytest.raises(DatasetError, match=r"16x.*not square|24x16, not square"):
        open_dataset(path)
    ds = open_dataset(path, resolution=16)
    item = ds[0]
    assert item["image"].shape == (3, 16, 16)
    fx = labels["a.png"][16]
    assert item["label"][16] == pytest.approx(fx * 24 / 16)  # focal in units of the narrower crop
    assert item["label"][20] == pytest.approx(labels["a.png"][20])  # the height was not cropped
    assert item["label"][18] == pytest.approx(0.5) and item["label"][21] == pytest.approx(0.5)
    assert torch.equal(ds.labels()[0], item["label"])  # what trainers draw cameras from matches the items


def test_celebamask_ids_are_mapped_to_cnerf_classes(tmp_path):
    ids = np.arange(19, dtype=np.uint8).repeat(2)[None].repeat(4, 0)  # every CelebAMask-HQ id
    np.testing.assert_array_equal(celebamask_to_cnerf(np.arange(19)),
                                  [0, 1, 5, 2, 2, 2, 4, 4, 6, 6, 3, 3, 3, 7, 7, 6, 8, 8, 8])
    files = {"x.png": png(picture(0, 4, width=38)), "masks/x.png": png(ids),
             "dataset.json": json.dumps({"labels": None, "mask_classes": list(CELEBAMASK_CLASSES)}).encode()}
    ds = open_dataset(write_zip(tmp_path / "celeb.zip", files), resolution=4)
    assert ds.num_classes == 9 and ds.class_names == list(CNERF_CLASSES)
    assert ds.read_mask(0).max() == 8 and ds.read_mask(0)[0, 4] == 5  # id 2 (nose) -> CNeRF's nose


def test_cnerf_channels_dilate_parts_as_cnerfs_loader():
    ids = torch.zeros(12, 12, dtype=torch.long)
    ids[2, 2] = 4  # brows: 4x4, anchor (2,2): grows 1 up/left and 2 down/right
    ids[8, 8] = 5  # nose: 3x3
    ids[6, 0] = 7  # hair: not dilated
    ch = cnerf_channels(ids)
    assert ch.shape == (1, 9, 12, 12) and ch.dtype == torch.float32
    rows, cols = torch.nonzero(ch[0, 4], as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (1, 4, 1, 4)
    assert ch[0, 5].sum() == 9 and ch[0, 5, 7:10, 7:10].sum() == 9
    assert ch[0, 7].sum() == 1
    assert ch[0, 0, 2, 2] == 0 and ch[0, 4, 2, 2] == 1
    assert ch[0, 0, 1, 1] == 1 and ch[0, 4, 1, 1] == 1  # multi-hot: the background keeps the grown pixels
    celeb = torch.zeros(1, 12, 12, dtype=torch.long)
    celeb[0, 2, 2], celeb[0, 8, 8] = 6, 2  # l_brow, nose in CelebAMask-HQ ids
    assert torch.equal(cnerf_channels(celeb, source="celebamask")[:, 4:6], ch[:, 4:6])
    with pytest.raises(InputError, match="0..8"):
        cnerf_channels(ids + 9)


def test_collate_makes_a_training_batch(tmp_path):
    ds = open_dataset(eg3d_zip(tmp_path / "d.zip", masks=True))
    loader = torch.utils.data.DataLoader(pickle.loads(pickle.dumps(ds)), batch_size=3,
                                         sampler=InfiniteSampler(len(ds), seed=1), collate_fn=collate)
    batch = next(iter(loader))
    assert isinstance(batch, Batch)
    assert batch.image.shape == (3, 3, 16, 16) and batch.image.dtype == torch.float32
    assert -1 <= batch.image.min() and batch.image.max() <= 1 and batch.image.max() > 0.5
    assert batch.label.shape == (3, 25) and batch.mask.shape == (3, 16, 16) and batch.mask.dtype == torch.int64
    plain = open_dataset(write_folder(tmp_path / "plain", labels=False))
    b = collate([plain[0], plain[1]])
    assert b.label is None and b.mask is None


# ---------------------------------------------------------------------------------------------- errors
def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere.zip does not exist"):
        open_dataset(tmp_path / "nowhere.zip")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(DatasetError, match=r"no images in .*empty"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable zip"):
        open_dataset(tmp_path / "bad.zip")


def test_missing_dataset_json_names_the_path_when_labels_are_required(tmp_path):
    path = write_zip(tmp_path / "nolabels.zip", {"a.png": png(picture(0))})
    with pytest.raises(DatasetError, match=r"nolabels.zip has no dataset.json.*gan3d dataset make"):
        open_dataset(path, require_labels=True)
    assert not open_dataset(path).has_labels


def test_label_of_wrong_length_names_the_entry(tmp_path):
    labels = labels_for(["a.png", "b.png"])
    labels["b.png"] = labels["b.png"][:24]
    files = {"a.png": png(picture(0)), "b.png": png(picture(1)),
             "dataset.json": json.dumps({"labels": [[k, v] for k, v in labels.items()]}).encode()}
    with pytest.raises(DatasetError, match=r"label of b.png has 24 numbers"):
        open_dataset(write_zip(tmp_path / "d.zip", files))


def test_image_without_label_is_named(tmp_path):
    labels = labels_for(["a.png"])
    files = {"a.png": png(picture(0)), "b.png": png(picture(1)),
             "dataset.json": json.dumps({"labels": [[k, v] for k, v in labels.items()]}).encode()}
    with pytest.raises(DatasetError, match=r"no label for b.png"):
        open_dataset(write_zip(tmp_path / "d.zip", files))


def test_mixed_sizes_name_two_examples(tmp_path):
    files = {"a.png": png(picture(0, 16)), "b.png": png(picture(1, 16)), "c.png": png(picture(2, 8))}
    path = write_zip(tmp_path / "d.zip", files)
    with pytest.raises(DatasetError, match=r"mixed sizes.*a.png is 16x16, c.png is 8x8"):
        open_dataset(path)
    assert open_dataset(path, resolution=8)[2]["image"].shape == (3, 8, 8)  # or resize them all


def test_mask_with_out_of_range_classes(tmp_path):
    folder = write_folder(tmp_path / "f", masks=True, mask_top=12)
    ds = open_dataset(folder)
    with pytest.raises(DatasetError, match=r"mask masks/sub/im0.png has class ids \[12\] out of range 0..8"):
        ds[0]
    classes = [f"c{i}" for i in range(13)]
    folder = write_folder(tmp_path / "g", masks=True, mask_top=12, extra={"mask_classes": classes})
    assert open_dataset(folder)[0]["mask"].max() == 12  # 13 declared classes: 12 is fine


def test_mask_problems_are_named(tmp_path):
    folder = write_folder(tmp_path / "f", masks=True)
    (folder / "masks" / "sub" / "im3.png").unlink()
    with pytest.raises(DatasetError, match=r"1 images have no mask, e.g. sub/im3.png"):
        open_dataset(folder)
    (folder / "masks" / "sub" / "im3.png").write_bytes(png(picture(0)))  # an RGB picture is no class map
    with pytest.raises(DatasetError, match="single-channel"):
        open_dataset(folder)[3]
    (folder / "masks" / "sub" / "im3.png").write_bytes(png(mask(8)))
    with pytest.raises(DatasetError, match="is 8x8 but its image is 16x16"):
        open_dataset(folder)[3]


def test_unreadable_image_is_named(tmp_path):
    folder = write_folder(tmp_path / "f", labels=False)
    (folder / "sub" / "im1.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(DatasetError, match=r"cannot read image sub/im1.png"):
        open_dataset(folder)


# ---------------------------------------------------------------------------------------------- synth
def test_synth_spec_parsing():
    assert parse_synth_spec("synth:num=20,res=64") == {"num": 20, "res": 64, "seed": 0}
    assert parse_synth_spec("synth:num=2000,res=128,seed=3") == {"num": 2000, "res": 128, "seed": 3}
    for bad, needle in (("synth:num=2", "lacks res"), ("synth:num=2,res=x", "res must be an integer"),
                        ("synth:num=2,res=64,size=3", "'size=3'"), ("synth:num=0,res=64", "positive")):
        with pytest.raises(DatasetError, match=needle):
            parse_synth_spec(bad)


def test_synth_world_is_built_once_into_the_cache(tmp_path, monkeypatch):
    calls = []

    def write_dataset(out, num, resolution, seed=0, *, progress=True):
        calls.append((num, resolution, seed))
        eg3d_zip(out, n=num, size=resolution, masks=True)
        return out

    monkeypatch.setitem(sys.modules, "gan3d.data.synth", types.SimpleNamespace(write_dataset=write_dataset))
    ds = open_dataset("synth:num=3,res=8,seed=5", require_labels=True, require_masks=True)
    assert len(ds) == 3 and ds.resolution == 8 and ds.name == "synth-res8-n3-seed5"
    path = synth_path(3, 8, 5)
    assert path.is_file() and path.parent.name == "datasets"
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".zip"] == [path.name]  # no temporary left
    assert build_synth(3, 8, 5) == path
    assert open_dataset("synth:num=3,res=8,seed=5", xflip=True).labels().shape == (6, 25)
    assert calls == [(3, 8, 5)]


def test_synth_world_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gan3d.data.synth", None)  # an install without the world
    with pytest.raises(DatasetError, match="not part of this install"):
        open_dataset("synth:num=3,res=8")
