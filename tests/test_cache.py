"""The checkpoint cache: resolve, add, verify, atomic downloads, and the missing-weights message."""

import hashlib
import http.server
import threading

import pytest

import gan3d
from gan3d import cache
from gan3d.errors import ChecksumError, WeightsNotFoundError

PAYLOAD = b"weights" * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _card(url="https://example.invalid/w.pkl", sha=SHA):
    return gan3d.ModelCard(name="m/v", method="m", dataset="d", resolution=8,
                           camera=gan3d.CameraDefaults(radius=1, focal=1),
                           weights=(gan3d.WeightFile(filename="w.pkl", urls=(url,), sha256=sha),))


def test_missing_weights_message_names_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN3D_PATH", str(tmp_path / "extra"))
    with pytest.raises(WeightsNotFoundError) as e:
        cache.resolve(_card())
    msg = str(e.value)
    assert "m/v" in msg and "w.pkl" in msg and "https://example.invalid/w.pkl" in msg
    assert str(cache.home() / "weights" / "m" / "v" / "w.pkl") in msg
    assert str(tmp_path / "extra" / "w.pkl") in msg
    assert "gan3d weights add /path/to/w.pkl --model m/v" in msg


def test_add_verifies_and_resolve_finds_it(tmp_path):
    src = tmp_path / "w.pkl"
    src.write_bytes(PAYLOAD)
    dest = cache.add(src, _card())
    assert dest == cache.home() / "weights" / "m" / "v" / "w.pkl" and dest.read_bytes() == PAYLOAD
    assert cache.resolve(_card()) == {"w.pkl": dest}
    assert [f.status for f in cache.status(_card(), check=True)] == ["verified"]
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(PAYLOAD[:-1])
    with pytest.raises(ChecksumError, match="expected"):
        cache.add(bad, _card())


def test_tampered_cached_file_is_refused(tmp_path):
    src = tmp_path / "w.pkl"
    src.write_bytes(PAYLOAD)
    dest = cache.add(src, _card())
    dest.write_bytes(PAYLOAD + b"x")
    assert [f.status for f in cache.status(_card(), check=True)] == ["MISMATCH"]
    with pytest.raises(ChecksumError):
        cache.resolve(_card())


@pytest.fixture
def server(tmp_path):
    (tmp_path / "w.pkl").write_bytes(PAYLOAD)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_on_loopback_is_checked_and_atomic(server, monkeypatch):
    monkeypatch.delenv("GAN3D_OFFLINE")
    path = cache.resolve(_card(url=f"{server}/w.pkl"))["w.pkl"]
    assert path.read_bytes() == PAYLOAD
    wrong = _card(url=f"{server}/w.pkl", sha="0" * 64)
    path.unlink()
    with pytest.raises(ChecksumError, match="not kept"):
        cache.resolve(wrong)
    assert not path.exists() and not list(path.parent.glob("*.part"))


def test_every_test_runs_offline_in_its_own_cache(tmp_path_factory):
    import os

    assert os.environ["GAN3D_OFFLINE"] == "1" and "GAN3D_PATH" not in os.environ
    assert str(cache.home()).startswith(str(tmp_path_factory.getbasetemp()))


def test_weights_sha256_names_a_models_weights_without_downloading(tmp_path):
    assert cache.weights_sha256(_card()) == SHA  # the card's pin, no file needed
    unpinned = _card(sha=None)
    with pytest.raises(WeightsNotFoundError):  # neither pinned nor here: nothing is fetched
        cache.weights_sha256(unpinned)
    src = tmp_path / "w.pkl"
    src.write_bytes(PAYLOAD + b"!")
    cache.add(src, unpinned)
    assert cache.weights_sha256(unpinned) == hashlib.sha256(PAYLOAD + b"!").hexdigest()
    two = _card().model_copy(update={"weights": (
        gan3d.WeightFile(filename="a.pt", sha256="1" * 64), gan3d.WeightFile(filename="b.pt", sha256="2" * 64))})
    lines = f"a.pt {'1' * 64}\nb.pt {'2' * 64}\n"
    assert cache.weights_sha256(two) == hashlib.sha256(lines.encode()).hexdigest()
