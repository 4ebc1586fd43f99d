"""Run configs (TOML/YAML, every bad field named) and resumable execution into the store."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from gan3d.errors import InputError
from gan3d.runs import execute, load_config, parse_config

TOML = """
name = "toy-smoke"
models = ["toy/sphere", "toy/sphere16"]
metrics = ["lpips_diversity", "pose"]
num = {num}
store = "{store}"
[metric_options.lpips_diversity]
pnet_rand = true   # random LPIPS backbone: offline plumbing test, not a meaningful distance
"""


def test_config_is_typed_and_run_id_ignores_where_results_go(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text(TOML.format(num=4, store=tmp_path / "a.sqlite"))
    cfg = load_config(p)
    assert cfg.models == ["toy/sphere", "toy/sphere16"] and cfg.num == 4
    other = cfg.model_copy(update={"store": "elsewhere.sqlite", "device": "cpu"})
    assert other.run_id() == cfg.run_id()
    assert cfg.model_copy(update={"num": 5}).run_id() != cfg.run_id()
    # random rendering draws depend on the batch layout, deterministic rendering does not
    assert cfg.model_copy(update={"batch_size": 3}).run_id() != cfg.run_id()
    det = cfg.model_copy(update={"rendering": "deterministic"})
    assert det.run_id() != cfg.run_id() and det.model_copy(update={"batch_size": 3}).run_id() == det.run_id()


def test_every_bad_field_is_named():
    with pytest.raises(InputError) as e:
        parse_config({"models": ["toy/spere"], "metrics": ["fdi"], "num": 0, "truncation_psi": 7, "colour": "red"})
    msg = str(e.value)
    for needle in ("models", "toy/spere", "metrics", "fdi", "num", "truncation_psi", "colour"):
        assert needle in msg
    assert "5 problem(s)" in msg


def test_what_would_fail_later_is_named_before_any_work(tmp_path, monkeypatch):
    """Cameras, device, reference and every metric's options are tried when the config is read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    data = {"models": ["toy/sphere"], "metrics": ["fid", "pose", "lpips_pair", "smile"], "cameras": "spiral",
            "reference": "empty", "store": str(tmp_path / "s.sqlite"),
            "metric_options": {"pose": {"bogus_option": 1}, "id": {"backend": "dlib"}, "smile": {"frames": 1}}}
    with pytest.raises(InputError) as e:
        parse_config(data)
    msg = str(e.value)
    assert "6 problem(s)" in msg, msg
    for needle in ("cameras: unknown camera distribution 'spiral'", "reference: reference 'empty' holds no images",
                   "metric_options.pose: metric 'pose' has no option 'bogus_option'",
                   "metric_options.id: options for a metric the run does not measure",
                   "metric_options.lpips_pair: lpips_pair compares two models",
                   "metric_options.smile: a smile sweep needs at least 2 frames"):
        assert needle in msg, needle
    assert not (tmp_path / "s.sqlite").exists()  # nothing written
    with pytest.raises(InputError, match="reference: FID needs reference images"):
        parse_config({"models": ["toy/sphere"], "metrics": ["fid"]})
    # option values are tried too, and a metric's option errors are filed under its options
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "a.png").write_bytes(b"")
    with pytest.raises(InputError) as e:
        parse_config({"models": ["toy/sphere"], "metrics": ["fid", "pose"], "reference": "ref",
                      "metric_options": {"fid": {"kid_subset": 3}, "pose": {"num": "abc"}}})
    assert "metric_options.fid: metric 'fid' has no option 'kid_subset'" in str(e.value)
    assert "metric_options.pose: num: Input should be a valid integer" in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("models = [")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(bad)
    other = tmp_path / "run.json"
    other.write_text("{}")
    with pytest.raises(InputError, match=".toml or .yaml"):
        load_config(other)


def test_execute_stores_every_result_and_a_rerun_adds_nothing(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text(TOML.format(num=3, store=tmp_path / "s.sqlite"))
    cfg = load_config(p)
    first = execute(cfg, progress=False)
    assert {(r.model, r.evaluator) for r in first} == {(m, e) for m in cfg.models for e in cfg.metrics}
    pose = next(r for r in first if r.metric == "pose_yaw_error")
    assert pose.value != pose.value and pose.extra["details"]["undetected"] == 3  # spheres have no faces: counted
    again = execute(cfg, progress=False)
    assert [(r.model, r.metric, r.created) for r in again] == [(r.model, r.metric, r.created) for r in first]


def test_a_run_killed_with_sigkill_resumes_without_lost_or_duplicated_rows(tmp_path):
    store = tmp_path / "s.sqlite"
    p = tmp_path / "run.toml"
    p.write_text(TOML.format(num=24, store=store))
    code = f"from gan3d.runs import load_config, execute; execute(load_config({str(p)!r}), progress=False)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 300
    rows = 0
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            try:
                rows = sqlite3.connect(store).execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
            if rows > 0:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; raise num"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = sqlite3.connect(store).execute("SELECT model, metric, created FROM results").fetchall()
    assert 0 < len(before) < 6, before  # killed part-way: some results committed, not all
    results = execute(load_config(p), progress=False)
    after = sqlite3.connect(store).execute("SELECT model, metric, created FROM results").fetchall()
    assert len(after) == len(set((m, k) for m, k, _ in after)) == 6, after  # 2 models x (lpips + 2 pose rows)
    assert set(before) <= set(after), (before, after)  # what was committed before the kill is kept as it was
    assert len(results) == 6


def test_gan3d_evaluate_takes_a_run_config(tmp_path, capsys):
    from gan3d.cli.main import main

    p = tmp_path / "run.toml"
    p.write_text(TOML.format(num=2, store=tmp_path / "s.sqlite"))
    assert main(["evaluate", str(p), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "toy/sphere16" in out and "LPIPS div." in out
    assert main(["leaderboard", "--store", str(tmp_path / "s.sqlite")]) == 0


def test_torchrun_with_two_gloo_processes_equals_a_single_process_run(tmp_path):
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    for store in (one, two):  # 5 latents in batches of 2: three batches, two of them rendered by rank 0
        (tmp_path / f"{store.stem}.toml").write_text("batch_size = 2\n" + TOML.format(num=5, store=store))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    single = subprocess.run([sys.executable, "-m", "gan3d", "evaluate", str(tmp_path / "one.toml"), "--quiet"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    sharded = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                              "-m", "gan3d", "evaluate", str(tmp_path / "two.toml"), "--quiet", "--device", "cpu"],
                             capture_output=True, text=True, env=env, timeout=600)
    assert sharded.returncode == 0, sharded.stderr[-2000:]

    def rows(path):
        q = "SELECT model, metric, value, n, protocol_hash, extra_json FROM results ORDER BY model, metric"
        return [r[:5] + (json.loads(r[5])["details"],) for r in sqlite3.connect(path).execute(q).fetchall()]

    a, b = rows(one), rows(two)
    assert len(a) == 6 and [r[:2] for r in a] == [r[:2] for r in b]
    finite = 0
    for ra, rb in zip(a, b):
        assert ra[3:5] == rb[3:5]  # same sample count and protocol
        assert (ra[2] is None and rb[2] is None) or abs(ra[2] - rb[2]) < 1e-6, (ra, rb)
        finite += ra[2] is not None
        assert "images_by_rank" not in ra[5]
    assert finite >= 2  # the LPIPS diversities are numbers (the spheres' poses are undefined)
    # the work was shared: LPIPS diversity renders 4 latents (two pairs) in batches of 2, one batch per process
    lpips_rows = [r for r in b if r[1] == "lpips_diversity"]
    assert lpips_rows and all(r[5]["images_by_rank"] == [2, 2] for r in lpips_rows), lpips_rows
    # pose: 5 latents, whole batches of 2 (random rendering): rank 0 renders batches 0 and 2, rank 1 batch 1
    pose_rows = [r for r in b if r[1].startswith("pose")]
    assert pose_rows and all(r[5]["images_by_rank"] == [4, 2] for r in pose_rows), pose_rows


def test_yaml_config_is_the_same_run_as_toml(tmp_path):
    (tmp_path / "run.toml").write_text(TOML.format(num=4, store=tmp_path / "s.sqlite"))
    (tmp_path / "run.yaml").write_text(
        f"name: toy-smoke\nmodels: [toy/sphere, toy/sphere16]\nmetrics: [lpips_diversity, pose]\nnum: 4\n"
        f"store: {tmp_path / 's.sqlite'}\nmetric_options:\n  lpips_diversity: {{pnet_rand: true}}\n")
    assert load_config(tmp_path / "run.yaml").run_id() == load_config(tmp_path / "run.toml").run_id()
    (tmp_path / "bad.yaml").write_text("models: [a\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_results_measured_on_other_weights_are_measured_again(tmp_path, capsys):
    p = tmp_path / "run.toml"
    p.write_text(TOML.format(num=2, store=tmp_path / "s.sqlite"))
    cfg = load_config(p)
    first = execute(cfg, progress=False)
    db = sqlite3.connect(tmp_path / "s.sqlite")
    db.execute("UPDATE models SET weights_note='random weights' WHERE model='toy/sphere'")  # as if random before
    db.commit()
    again = execute(cfg, progress=False)
    assert "toy/sphere: its weights changed" in capsys.readouterr().out
    redone = {r.metric: r.created for r in again if r.model == "toy/sphere"}
    kept = {r.metric: r.created for r in again if r.model == "toy/sphere16"}
    assert kept == {r.metric: r.created for r in first if r.model == "toy/sphere16"}
    assert len(redone) == 3
