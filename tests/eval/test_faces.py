"""Pose, smile and identity on exact synthetic geometry and on real photographs (offline)."""

import numpy as np
import pytest
import torch
from eval_helpers import LFW_NEUTRAL, LFW_SMILING, LFW_TURNED, CARD, DotDetector, LandmarkGenerator, PhotoGenerator, lfw_image
from PIL import Image
from synthetic import landmarks, rotate_points

import gan3d
from gan3d.eval import FixedCameras, GaussianCameras, HarnessConfig, evaluate
from gan3d.eval.identity import IdentityEvaluator, cosine_similarity
from gan3d.eval.pose import PoseEvaluator, estimate_pose, pnp_pose, roll_from_points, yaw_from_points5
from gan3d.eval.smile import SmileEvaluator, smile_coefficient

FOCAL = CARD.camera.focal


# ------------------------------------------------------------------ geometry (exact)
def test_five_point_yaw_follows_the_camera_convention():
    yaws = np.array([-0.6, -0.3, -0.1, 0.0, 0.1, 0.3, 0.6])
    # a distant camera (weak perspective, same framing): the nose-offset formula is exact
    far = gan3d.Camera.orbit(torch.tensor(yaws), 0.0, radius=270.0, focal=FOCAL * 100)
    p5, _ = landmarks(far, 512)
    assert np.abs(yaw_from_points5(p5) - yaws).max() < np.radians(0.3)
    # FFHQ's camera: perspective makes it overestimate, by a bounded factor, never with the wrong sign
    p5, _ = landmarks(gan3d.Camera.orbit(torch.tensor(yaws), 0.0, focal=FOCAL), 512)
    est = yaw_from_points5(p5)
    nz = yaws != 0
    assert np.all(est[nz] / yaws[nz] > 1.0) and np.all(est[nz] / yaws[nz] < 1.25)
    # positive yaw: the face turns towards the image's left (nose left of the eye/mouth centre)
    assert p5[-1, 2, 0] < p5[-1, [0, 1, 3, 4], 0].mean()


def test_pnp_recovers_yaw_and_pitch_exactly():
    yaws, pitches = np.array([-0.7, -0.3, 0.0, 0.25, 0.6]), np.array([0.15, -0.2, 0.0, 0.3, -0.1])
    _, p68 = landmarks(gan3d.Camera.orbit(torch.tensor(yaws), torch.tensor(pitches), focal=FOCAL), 512)
    for i in range(len(yaws)):
        y, p = pnp_pose(p68[i], FOCAL * 512, (256, 256))
        assert abs(y - yaws[i]) < 1e-3 and abs(p - pitches[i]) < 1e-3


def test_roll_is_the_in_plane_rotation():
    p5, _ = landmarks(gan3d.Camera.orbit(0.0, 0.0, focal=FOCAL), 512)
    for theta in (-0.4, 0.0, 0.2, 0.5):
        assert abs(roll_from_points(rotate_points(p5, theta, (256, 256)))[0] - theta) < 1e-9
    # roll does not disturb the five-point yaw
    p5y, _ = landmarks(gan3d.Camera.orbit(0.3, 0.0, focal=FOCAL), 512)
    assert abs(yaw_from_points5(rotate_points(p5y, 0.4, (200, 300)))[0] - yaw_from_points5(p5y)[0]) < 1e-9


def test_pose_evaluator_end_to_end_matches_requested_cameras():
    G = LandmarkGenerator(CARD.model_copy(update={"resolution": 384}))
    ev = PoseEvaluator(backend="dlib", detector=DotDetector())
    res = {r.name: r for r in evaluate(G, [ev], HarnessConfig(num=24, device="cpu", progress=False,
                                                              cameras=GaussianCameras())).results}
    assert res["pose_yaw_error"].value < 0.5 and res["pose_pitch_error"].value < 1.0  # degrees (pixel rounding)
    assert res["pose_yaw_corr"].value > 0.999
    assert res["pose_yaw_error"].details["undetected"] == 0 and res["pose_yaw_error"].n == 24
    # a generator that renders the mirror of the requested yaw is caught
    ev2 = PoseEvaluator(backend="dlib", detector=DotDetector())
    flipped = FixedCameras(poses=((0.3, 0.0), (-0.3, 0.0)))
    ev2.cameras = flipped

    class Mirror(LandmarkGenerator):
        def synthesize(self, w, camera, **kw):
            return super().synthesize(w, camera.flip_yaw(), **kw)

    res2 = {r.name: r for r in evaluate(Mirror(), [ev2], HarnessConfig(num=4, device="cpu", progress=False)).results}
    assert abs(res2["pose_yaw_error"].value - 2 * np.degrees(0.3)) < 0.5 and res2["pose_yaw_corr"].value < -0.99


# ------------------------------------------------------------------ real photographs
@pytest.mark.parametrize("backend", ["mtcnn", "dlib"])
def test_pose_on_real_photos(backend, astronaut, request):
    det = request.getfixturevalue(f"{backend}_detector")

    def pose(img):
        return {k: np.degrees(v[0]) for k, v in estimate_pose(det.detect(img), img.shape[:2], 1.0).items()}

    # MTCNN's five landmarks are noisier than dlib's 68 (measured: mirror sums up to 6 degrees)
    tol_mirror, tol_roll = (7.0, 3.5) if backend == "mtcnn" else (3.0, 2.0)
    a = pose(astronaut)
    assert abs(a["yaw"]) < 8 and abs(a["roll"]) < 8  # the astronaut looks at the camera
    m = pose(np.ascontiguousarray(astronaut[:, ::-1]))
    assert abs(m["yaw"]) < 8 and abs(m["yaw"] + a["yaw"]) < tol_mirror and abs(m["roll"] + a["roll"]) < tol_roll
    for theta in (-20, 12, 25):  # Image.rotate turns counter-clockwise
        rot = np.asarray(Image.fromarray(astronaut).rotate(theta, resample=Image.BICUBIC, center=(225, 120)))
        assert abs(pose(rot)["roll"] - a["roll"] - theta) < tol_roll, theta
    # faces turned towards the image's left (positive yaw): the mirror negates the yaw
    for i in LFW_TURNED:
        img = lfw_image(i)
        y, ym = pose(img)["yaw"], pose(np.ascontiguousarray(img[:, ::-1]))["yaw"]
        assert y > 15 and ym < -15 and abs(y + ym) < tol_mirror, (i, y, ym)


@pytest.mark.parametrize("backend", ["mtcnn", "dlib"])
def test_smiling_faces_score_above_neutral_ones(backend, faces192, request):
    det = request.getfixturevalue(f"{backend}_detector")
    imgs = np.stack([lfw_image(i) for i in LFW_SMILING + LFW_NEUTRAL])
    s = smile_coefficient(det.detect(imgs))
    smiling, neutral = s[:len(LFW_SMILING)], s[len(LFW_SMILING):]
    assert np.isfinite(s).mean() > 0.9
    assert np.nanmean(smiling) > np.nanmean(neutral) + 0.1
    pairs = [(a, b) for a in smiling[np.isfinite(smiling)] for b in neutral[np.isfinite(neutral)]]
    assert np.mean([a > b for a, b in pairs]) > 0.9  # AUC
    astro, grace = smile_coefficient(det.detect(np.stack([faces192["astronaut"], faces192["grace"]])))
    assert astro > grace + 0.1


def test_smile_is_invariant_to_in_plane_rotation(dlib_detector, astronaut):
    s0 = smile_coefficient(dlib_detector.detect(astronaut))[0]
    rot = np.asarray(Image.fromarray(astronaut).rotate(20, resample=Image.BICUBIC, center=(225, 120)))
    assert abs(smile_coefficient(dlib_detector.detect(rot))[0] - s0) < 0.05


def test_same_face_scores_higher_than_different_people(dlib_embedder, astronaut, grace_hopper):
    def emb(img):
        return dlib_embedder.embed(img)[0]

    ref = emb(astronaut)
    same = [np.ascontiguousarray(astronaut[:, ::-1])]
    same += [np.asarray(Image.fromarray(astronaut).rotate(t, resample=Image.BICUBIC, center=(225, 120))) for t in (-10, 8)]
    same_s = [cosine_similarity(ref[None], emb(x)[None])[0] for x in same]
    lfw = np.stack([lfw_image(i) for i in range(12)])
    others = np.concatenate([dlib_embedder.embed(grace_hopper), dlib_embedder.embed(lfw)])
    diff_s = cosine_similarity(np.repeat(ref[None], len(others), 0), others)
    diff_s = diff_s[np.isfinite(diff_s)]
    assert len(diff_s) >= 10
    assert min(same_s) > 0.97 and min(same_s) > diff_s.max() + 0.05


def test_identity_and_smile_evaluators_end_to_end(faces192, dlib_embedder, dlib_detector):
    cfg = HarnessConfig(num=3, device="cpu", progress=False, batch_size=6)
    same = PhotoGenerator(faces192, lambda z, yaw: "astronaut" if z[0] > 0 else "grace")
    swap = PhotoGenerator(faces192, lambda z, yaw: "astronaut" if yaw > 0 else "grace")
    swap.card = CARD.model_copy(update={"name": "test/swap"})
    blank = PhotoGenerator({"none": np.zeros((192, 192, 3), np.uint8)}, lambda z, yaw: "none")

    def run(G):
        two_sides = FixedCameras(poses=((-0.2, 0.0), (0.2, 0.0)))  # view 0 left, view 1 right
        evs = [IdentityEvaluator(backend="dlib", embedder=dlib_embedder, cameras=two_sides),
               SmileEvaluator(backend="dlib", detector=dlib_detector, frames=4)]
        return {r.name: r for r in evaluate(G, evs, cfg).results}

    r_same, r_swap, r_blank = run(same), run(swap), run(blank)
    assert r_same["id"].value > 0.99 and r_same["id"].n == 3
    assert r_swap["id"].n == 3 and r_swap["id"].value < 0.93  # astronaut vs Grace Hopper in every pair
    assert r_same["smile_std"].value < 1e-9 and r_swap["smile_std"].value > 0.05
    # no faces: counted, not a crash
    assert r_blank["id"].n == 0 and r_blank["id"].details["undetected_images"] == 6
    assert r_blank["smile_std"].details["undetected_frames"] == 12 and np.isnan(r_blank["smile_std"].value)
    assert r_same["id"].protocol.backbone == "dlib-resnet-v1" and r_same["id"].protocol.backbone_sha256


def test_facenet_backend_runs_offline_from_a_local_file_and_explains_missing_weights(tmp_path, faces192):
    from facenet_pytorch import InceptionResnetV1

    from gan3d.errors import WeightsNotFoundError
    from gan3d.eval.identity import FacenetEmbedder

    with pytest.raises(WeightsNotFoundError) as e:
        FacenetEmbedder("cpu")
    msg = str(e.value)
    assert "20180402-114759-vggface2.pt" in msg and "weights/eval" in msg and "https://" in msg
    # a local file (random weights here: the plumbing, not the accuracy, is under test)
    torch.manual_seed(0)
    path = tmp_path / "facenet.pt"
    torch.save(InceptionResnetV1(pretrained=None).eval().state_dict(), path)
    emb = FacenetEmbedder("cpu", weights=str(path))
    imgs = np.stack([faces192["astronaut"], np.ascontiguousarray(faces192["astronaut"][:, ::-1]),
                     np.zeros((192, 192, 3), np.uint8)])
    e = emb.embed(imgs)
    assert e.shape == (3, 512) and np.isfinite(e[:2]).all() and np.isnan(e[2]).all()
    assert np.allclose(np.linalg.norm(e[:2], axis=1), 1, atol=1e-4)  # FaceNet embeddings are unit length
    assert len(emb.sha256) == 64
