"""The viewer's HTTP server (the standard library's threading server; no other dependency).

Routes, and nothing else: ``/`` the page, ``/api/models`` the models as JSON, ``/api/render`` one PNG,
``/api/orbit`` an MP4, ``/api/progress`` an orbit's progress. The page is the package's own file; no
path from a request ever reaches the file system, so there is nothing to traverse. Bad parameters are
answered 400 with the reason as plain text; a render overtaken by a newer one for its panel 409.
"""

from __future__ import annotations

import json
import math
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from ..errors import Gan3dError, InputError
from .session import Superseded, ViewSession, _integer, _number, _one

_MAX_QUERY = 4096


def _page() -> bytes:
    return resources.files("gan3d.view").joinpath("static/index.html").read_bytes()


class ViewHandler(BaseHTTPRequestHandler):
    """One request; the session is the server's (``self.server.session``)."""

    server_version = "gan3d-view"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the page aborted a stale request
                pass

    def _text(self, status: int, message: str) -> None:
        self._send(status, message.encode(), "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        self._text(HTTPStatus.METHOD_NOT_ALLOWED, "the viewer only answers GET requests")

    def do_GET(self) -> None:  # noqa: N802
        if len(self.path) > _MAX_QUERY:
            return self._text(HTTPStatus.REQUEST_URI_TOO_LONG, "request too long")
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, keep_blank_values=True, strict_parsing=bool(url.query), max_num_fields=64)
        except ValueError as e:
            return self._text(HTTPStatus.BAD_REQUEST, f"malformed query string: {e}")
        session: ViewSession = self.server.session
        try:
            if url.path in ("/", "/index.html"):
                if query:
                    raise InputError("the page takes no parameters")
                return self._send(HTTPStatus.OK, _page(), "text/html; charset=utf-8")
            if url.path == "/api/models":
                return self._send(HTTPStatus.OK, json.dumps(session.describe()).encode(), "application/json")
            if url.path == "/api/render":
                req = session.parse(query)
                session.announce(req)
                png, facts = session.render_png(req)
                return self._send(HTTPStatus.OK, png, "image/png",
                                  {"X-Gan3d-Outside": "1" if facts["outside"] else "0",
                                   "X-Gan3d-Ms": str(facts["ms"])})
            if url.path == "/api/orbit":
                names = _one(query, "models").split(",")
                if not 1 <= len(names) <= 3 or "" in names:
                    raise InputError("models must list one to three comma-separated model names")
                frames = _integer(query, "frames", 2, 240, "48")
                amp = _number(query, "amplitude", 0.0, math.pi / 2, "0.5")
                job = _integer(query, "job", 0, 2 ** 53, "0")
                base = {k: v for k, v in query.items() if k not in ("models", "frames", "amplitude", "job")}
                reqs = [session.parse({**base, "model": [n]}) for n in names]
                body = session.orbit_mp4(reqs, frames, amp, job)
                return self._send(HTTPStatus.OK, body, "video/mp4",
                                  {"Content-Disposition": "attachment; filename=\"gan3d-orbit.mp4\""})
            if url.path == "/api/progress":
                job = _integer(query, "job", 0, 2 ** 53)
                done, total = session.progress.get(job, (0, 0))
                return self._send(HTTPStatus.OK, json.dumps({"done": done, "total": total}).encode(),
                                  "application/json")
            return self._text(HTTPStatus.NOT_FOUND, f"no such page: {url.path} (the viewer serves / and /api/*)")
        except Superseded as e:
            return self._text(HTTPStatus.CONFLICT, str(e))
        except InputError as e:
            return self._text(HTTPStatus.BAD_REQUEST, str(e))
        except Gan3dError as e:
            return self._text(HTTPStatus.UNPROCESSABLE_ENTITY, str(e))
        except Exception as e:  # noqa: BLE001  (a model failing must not take the server down)
            if getattr(self.server, "verbose", False):
                traceback.print_exc()
            return self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")


class ViewServer(ThreadingHTTPServer):
    """A threading HTTP server holding one :class:`ViewSession`."""

    daemon_threads = True

    def __init__(self, session: ViewSession, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False):
        super().__init__((host, port), ViewHandler)
        self.session = session
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start_background(self) -> threading.Thread:
        """Serve from a daemon thread (tests, notebooks); stop with :meth:`shutdown`."""
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                             name="gan3d-view")
        t.start()
        return t
