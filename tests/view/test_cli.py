"""`gan3d view` from the command line: it starts, says where, serves its page; bad options are one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from gan3d.cli.main import main


def test_view_serves_until_stopped():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gan3d", "view", "toy/sphere", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("gan3d view: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/models", timeout=60) as r:
            assert [m["name"] for m in json.loads(r.read())["models"]] == ["toy/sphere"]
    finally:
        proc.terminate()
        proc.wait(30)


def test_bad_options(capsys):
    assert main(["view", "toy/sphere", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["view", "toy/sphere", "--latents", "/nonexistent/latents.pt"]) == 2
    assert main(["view", "toy/spehre"]) == 2
    assert "toy/sphere" in capsys.readouterr().err  # the nearest registered name
