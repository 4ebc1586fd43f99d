"""`gan3d view`'s HTTP server on 127.0.0.1 (an ephemeral port) with the toy plugin's spheres."""

from __future__ import annotations

import http.client
import io
import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gan3d
from gan3d.view import ViewServer, ViewSession
from gan3d.video import read_video_frames
from gan3d.view.controls import Control, method_controls


@pytest.fixture
def server():
    session = ViewSession(["toy/sphere", "toy/sphere16"], lambda name: gan3d.load(name))
    srv = ViewServer(session, "127.0.0.1", 0)
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(srv: ViewServer, path: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(srv.url.rstrip("/") + path, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def raw_get(srv: ViewServer, path: str) -> tuple[int, bytes]:
    """A request line sent as is (urllib would normalise ``..`` away)."""
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def png(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def test_page_and_models(server):
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/api/render" in body
    status, _, body = get(server, "/api/models")
    info = json.loads(body)
    assert [m["name"] for m in info["models"]] == ["toy/sphere", "toy/sphere16"]
    assert info["models"][1]["pose_range"] == {"yaw": [-0.5, 0.5], "pitch": [-0.3, 0.3]}
    assert info["modes"] == ["image", "raw", "depth", "semantic"]


def test_render_png_and_mapping_once_per_latent(server):
    session = server.session
    status, headers, body = get(server, "/api/render?model=toy/sphere&seed=3&yaw=0&pitch=0&trunc=0.7")
    assert status == 200 and headers["Content-Type"] == "image/png"
    front = png(body)
    assert front.shape == (64, 64, 3) and front.std() > 5  # a sphere on a background, not a flat image
    assert headers["X-Gan3d-Outside"] == "0"
    side = png(get(server, "/api/render?model=toy/sphere&seed=3&yaw=0.6&pitch=0.2&trunc=0.7")[2])
    assert np.abs(side.astype(int) - front).mean() > 0.5  # the camera moved
    assert session.mappings == 1  # two cameras, one latent: mapped once
    get(server, "/api/render?model=toy/sphere&seed=4&yaw=0.6&pitch=0.2&trunc=0.7")
    assert session.mappings == 2
    depth = png(get(server, "/api/render?model=toy/sphere&seed=3&mode=depth")[2])
    assert not np.array_equal(depth, front)
    semantic = png(get(server, "/api/render?model=toy/sphere&seed=3&mode=semantic")[2])
    assert len(np.unique(semantic.reshape(-1, 3), axis=0)) == 2  # the sphere's class and the background
    # the same seed gives the same image as the Python API at the card's camera
    G = gan3d.load("toy/sphere").set_deterministic(True)
    lat = gan3d.sample_latents(G, [3])
    ref = gan3d.images.to_uint8(G(lat.z, G.default_camera(0.0, 0.0), truncation_psi=0.7).image)[0]
    assert np.abs(ref.astype(int) - front).max() <= 1
    # outside toy/sphere16's trained yaw range (±0.5): rendered and flagged
    status, headers, _ = get(server, "/api/render?model=toy/sphere16&seed=3&yaw=1.0")
    assert status == 200 and headers["X-Gan3d-Outside"] == "1"


@pytest.mark.parametrize("query, words", [
    ("model=toy/sphere&yaw=abc", "yaw"),
    ("model=toy/sphere&yaw=nan", "yaw"),
    ("model=toy/sphere&pitch=5", "pitch"),
    ("model=toy/sphere&seed=-1", "seed"),
    ("model=toy/sphere&seed=1e3", "seed"),
    ("model=toy/sphere&trunc=9", "trunc"),
    ("model=toy/sphere&fov=0", "fov"),
    ("model=toy/sphere&mode=xray", "mode"),
    ("model=toy/sphere&slot=7", "slot"),
    ("model=toy/sphere&yaw=1&yaw=2", "once"),
    ("model=toy/sphere&path=/etc/passwd", "unknown parameter"),
    ("model=/etc/passwd", "not offered"),
    ("model=eg3d/ffhq512-128", "not offered"),
    ("yaw=0", "model"),
    ("model=toy/sphere&&&=", "malformed"),
])
def test_bad_parameters_are_4xx_with_a_message(server, query, words):
    status, headers, body = get(server, "/api/render?" + query)
    assert 400 <= status < 500, (query, status, body)
    assert words in body.decode()
    assert get(server, "/api/models")[0] == 200  # the server is still there


def test_orbit_parameters_and_video(server):
    assert get(server, "/api/orbit?models=toy/sphere&frames=1")[0] == 400
    assert get(server, "/api/orbit?models=a,b,c,d")[0] == 400
    status, headers, body = get(server, "/api/orbit?models=toy/sphere,toy/sphere16&frames=4&job=7&seed=1")
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "o.mp4"
        p.write_bytes(body)
        frames = read_video_frames(p)
    assert len(frames) == 4 and frames[0].shape[:2] == (64, 128)  # two models side by side
    assert json.loads(get(server, "/api/progress?job=7")[2]) == {"done": 4, "total": 4}


@pytest.mark.parametrize("path", ["/../../../../etc/passwd", "/static/../session.py", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/api/render/../../../etc/passwd", "/index.html/../server.py", "/static/index.html",
                                  "//etc/passwd", "/api/../../pyproject.toml"])
def test_only_its_own_routes(server, path):
    status, body = raw_get(server, path)
    assert status == 404
    assert b"root:" not in body and b"import" not in body


def test_a_newer_request_supersedes_a_waiting_one(server):
    session = server.session
    session.generator("toy/sphere")
    results = {}

    def fetch(rid: int) -> None:
        results[rid] = get(server, f"/api/render?model=toy/sphere&slot=0&rid={rid}&yaw=0.{rid}")[0]

    lock = session._locks["toy/sphere"]
    with lock:  # the model is busy: both requests wait for it
        threads = [threading.Thread(target=fetch, args=(1,))]
        threads[0].start()
        deadline = time.time() + 30
        while session._latest.get(0) != 1 and time.time() < deadline:
            time.sleep(0.01)
        threads.append(threading.Thread(target=fetch, args=(2,)))
        threads[1].start()
        while session._latest.get(0) != 2 and time.time() < deadline:
            time.sleep(0.01)
    for t in threads:
        t.join(60)
    assert results == {1: 409, 2: 200}
    # another panel is independent of panel 0
    assert get(server, "/api/render?model=toy/sphere&slot=1&rid=1")[0] == 200


def test_latents_file_rows(tmp_path):
    lat = gan3d.sample_latents(gan3d.model_card("toy/sphere").latent, [11, 12])
    session = ViewSession(["toy/sphere"], lambda name: gan3d.load(name), gan3d.Latents.load_all(lat.save(tmp_path / "l.pt")))
    srv = ViewServer(session, "127.0.0.1", 0)
    srv.start_background()
    try:
        assert json.loads(get(srv, "/api/models")[2])["latents_rows"] == 2
        row1 = png(get(srv, "/api/render?model=toy/sphere&seed=1")[2])
        status, _, body = get(srv, "/api/render?model=toy/sphere&seed=2")
        assert status == 400 and b"seed" in body
    finally:
        srv.shutdown()
        srv.server_close()
    seeded = ViewSession(["toy/sphere"], lambda name: gan3d.load(name))
    req = seeded.parse({"model": ["toy/sphere"], "seed": ["12"]})
    assert np.array_equal(seeded.render(req)[0], row1)  # row 1 of the file is seed 12


def test_method_controls_validate():
    c = Control("light", "light", "range", -60, 60, 6)
    assert c.parse("12") == 12.0
    with pytest.raises(gan3d.errors.InputError, match="light"):
        c.parse("90")
    with pytest.raises(gan3d.errors.InputError, match="light"):
        c.parse("x")
    cnerf = method_controls("cnerf")
    region = next(x for x in cnerf.controls if x.name == "region")
    assert region.choices[0] == "all" and "mouth" in region.choices
    assert [x.name for x in method_controls("liftedgan").controls] == ["light"]
    assert method_controls("toy").controls == []
