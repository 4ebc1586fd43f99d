"""The SQLite results store: one row per (run, model, metric), no duplicates, concurrent writers."""

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from gan3d.store import ResultStore, StoredResult, StoreError


def _result(model="toy/sphere", metric="fid", value=1.0, run="r1"):
    return StoredResult(run_id=run, model=model, metric=metric, value=value, spread=0.1, n=10,
                        protocol_hash="abc123", protocol={"num": 10}, dataset="analytic")


def test_results_are_written_once_and_read_back(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as st:
        st.add_run("r1", "demo", {"models": ["toy/sphere"]})
        st.add_model("r1", "toy/sphere", "toy/sphere", "analytic", None, "random weights")
        assert st.add_result(_result())
        assert not st.add_result(_result(value=99.0))  # same key: ignored, not duplicated
        rows = st.results()
        assert len(rows) == 1 and rows[0].value == 1.0 and rows[0].weights_note == "random weights"
        assert rows[0].versions["gan3d"] and st.done("r1") == {("toy/sphere", "fid")}
        assert st.runs()[0]["name"] == "demo"
    mode = sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_newer_schema_and_foreign_files_are_clear_errors(tmp_path):
    path = tmp_path / "s.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer gan3d"):
        ResultStore(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a gan3d results store"):
        ResultStore(junk)


WRITER = textwrap.dedent("""
    import sys
    from gan3d.store import ResultStore, StoredResult
    path, who = sys.argv[1], sys.argv[2]
    with ResultStore(path) as st:
        for i in range(60):
            for model in ("a", "b"):  # both writers also race on the same keys
                st.add_result(StoredResult(run_id="r", model=model, metric=f"m{i}", value=i, n=1,
                                           protocol_hash="p", dataset="d", extra={"who": who}))
""")


def test_two_processes_writing_at_once_do_not_corrupt_the_store(tmp_path):
    path = tmp_path / "s.sqlite"
    ResultStore(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), w]) for w in ("x", "y")]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 120  # 60 metrics x 2 models, no dups
