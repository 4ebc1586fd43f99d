"""The results store: an embedded SQLite database of evaluation runs and their metric results.

One row per (run, model, metric), each committed as soon as it is computed, so a run killed at any
point resumes where it stopped: :meth:`ResultStore.done` says what is already there and
``INSERT OR IGNORE`` on the primary key makes a repeated write a no-op (no duplicates). WAL mode and a
busy timeout let several processes write to one store at once without corrupting it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from .errors import Gan3dError

SCHEMA_VERSION = 1
DEFAULT_STORE = "gan3d-results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, name TEXT NOT NULL, config_json TEXT NOT NULL,
    created TEXT NOT NULL, versions_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    run_id TEXT NOT NULL, model TEXT NOT NULL, card_name TEXT NOT NULL, dataset TEXT NOT NULL,
    checkpoint_sha256 TEXT, weights_note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, model));
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, model TEXT NOT NULL, metric TEXT NOT NULL, evaluator TEXT NOT NULL,
    value REAL, spread REAL, n INTEGER NOT NULL,
    protocol_hash TEXT NOT NULL, protocol_json TEXT NOT NULL, dataset TEXT NOT NULL,
    seconds REAL, created TEXT NOT NULL, versions_json TEXT NOT NULL, extra_json TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, model, metric));
"""


class StoreError(Gan3dError):
    """The store file is unusable (newer schema, not a gan3d store, locked for too long)."""


class StoredResult(BaseModel):
    """One metric result of one model in one run, as stored."""

    run_id: str
    model: str
    metric: str
    value: float = Field(description="NaN when undefined (e.g. no face detected in any sample)")
    evaluator: str = Field("", description="the evaluator that produced it (fid gives fid and kid)")
    spread: float | None = None
    n: int
    protocol_hash: str
    protocol: dict = Field(default_factory=dict)
    dataset: str = ""
    seconds: float | None = None
    created: str = ""
    versions: dict = Field(default_factory=dict)
    extra: dict = Field(default_factory=dict)
    weights_note: str = ""
    kimg: float | None = Field(None, description="training progress of the measured weights (a training run's "
                                                 "snapshot), for metric-against-kimg curves; None otherwise")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a number (recorded with every result)."""
    import importlib.metadata as md

    out = {}
    for dist in ("gan3d", "torch", "torchvision", "numpy", "clean-fid", "lpips", "facenet-pytorch"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    for ep in md.entry_points(group="gan3d"):
        if ep.dist is not None:
            out[ep.dist.name] = ep.dist.version
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ResultStore:
    """A results database at ``path`` (created on first use)."""

    def __init__(self, path: str | os.PathLike = DEFAULT_STORE, timeout: float = 60.0):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path} is a folder; give a file path for the results store")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        version = self._open(timeout)
        if version > SCHEMA_VERSION:
            self._db.close()
            raise StoreError(f"{self.path} was written by a newer gan3d (store schema {version}, this gan3d reads "
                             f"up to {SCHEMA_VERSION}); upgrade gan3d, or write to another store (--store FILE, or `store` in a run config)")

    def _open(self, timeout: float) -> int:
        """Connect, switch to WAL and create the schema; returns the file's schema version.

        Another process may hold the write lock at any of these steps (switching to WAL needs it
        briefly), so "locked" answers are retried until ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
                self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                with self._tx():
                    for stmt in filter(str.strip, _SCHEMA.split(";")):
                        self._db.execute(stmt)
                    row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                    if row is None:
                        self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                        return SCHEMA_VERSION
                    return int(row[0])
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise StoreError(f"cannot open the results store {self.path}: {e}") from None
                self._db.close()
                time.sleep(0.05)
            except sqlite3.DatabaseError as e:
                self._db.close()
                raise StoreError(f"{self.path} is not a gan3d results store ({e}); "
                                 f"write to another store (--store FILE, or `store` in a run config)") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue instead of failing.
        for attempt in range(50):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 49:
                    raise StoreError(f"{self.path} stayed locked: {e}") from None
                time.sleep(0.1)
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------------------------- writing
    def add_run(self, run_id: str, name: str, config: dict) -> None:
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO runs VALUES (?,?,?,?,?)",
                             (run_id, name, json.dumps(config, sort_keys=True), _now(), json.dumps(package_versions())))

    def add_model(self, run_id: str, model: str, card_name: str, dataset: str, checkpoint_sha256: str | None,
                  weights_note: str = "") -> None:
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO models VALUES (?,?,?,?,?,?)",
                             (run_id, model, card_name, dataset, checkpoint_sha256, weights_note))

    def add_result(self, r: StoredResult) -> bool:
        """Commit one result; False if that (run, model, metric) was already stored (nothing written)."""
        return self.add_results([r]) == 1

    def add_results(self, results: list[StoredResult]) -> int:
        """Commit results together (one evaluator's fid and kid: both or neither); returns rows written."""
        with self._tx():
            return sum(self._insert(r) for r in results)

    def forget(self, run_id: str, model: str) -> None:
        """Drop a model's results of a run (they were measured on other weights)."""
        with self._tx():
            self._db.execute("DELETE FROM results WHERE run_id=? AND model=?", (run_id, model))

    def model_weights(self, run_id: str, model: str) -> tuple[str | None, str] | None:
        """``(checkpoint_sha256, weights_note)`` recorded for a model of a run, or None."""
        row = self._db.execute("SELECT checkpoint_sha256, weights_note FROM models WHERE run_id=? AND model=?",
                               (run_id, model)).fetchone()
        return None if row is None else (row[0], row[1])

    def _insert(self, r: StoredResult) -> int:
        value = None if r.value != r.value else float(r.value)  # NaN (undefined) is stored as NULL
        extra = dict(r.extra)
        if r.kimg is not None:  # kept in extra_json: the table (and older gan3d versions' writes) stay as they are
            extra["kimg"] = float(r.kimg)
        cur = self._db.execute(
            "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (r.run_id, r.model, r.metric, r.evaluator or r.metric, value, r.spread, int(r.n), r.protocol_hash,
             json.dumps(r.protocol, sort_keys=True), r.dataset, r.seconds, r.created or _now(),
             json.dumps(r.versions or package_versions(), sort_keys=True), json.dumps(extra, sort_keys=True)))
        return cur.rowcount

    # ------------------------------------------------------------------------------------- reading
    def done(self, run_id: str) -> set[tuple[str, str]]:
        """``{(model, evaluator)}`` already stored for ``run_id``."""
        rows = self._db.execute("SELECT model, evaluator FROM results WHERE run_id=?", (run_id,)).fetchall()
        return {(m, k) for m, k in rows}

    def results(self, run_id: str | None = None) -> list[StoredResult]:
        q = ("SELECT r.run_id, r.model, r.metric, r.evaluator, r.value, r.spread, r.n, r.protocol_hash, r.protocol_json, r.dataset,"
             " r.seconds, r.created, r.versions_json, r.extra_json, COALESCE(m.weights_note, '')"
             " FROM results r LEFT JOIN models m ON m.run_id = r.run_id AND m.model = r.model")
        args: tuple = ()
        if run_id is not None:
            q += " WHERE r.run_id = ?"
            args = (run_id,)
        out = []
        for row in self._db.execute(q + " ORDER BY r.created, r.model, r.metric", args).fetchall():
            extra = json.loads(row[13])
            kimg = extra.pop("kimg", None)
            out.append(StoredResult(run_id=row[0], model=row[1], metric=row[2], evaluator=row[3], value=float("nan") if row[4] is None else row[4],
                                    spread=row[5], n=row[6], protocol_hash=row[7], protocol=json.loads(row[8]),
                                    dataset=row[9], seconds=row[10], created=row[11], versions=json.loads(row[12]),
                                    extra=extra, weights_note=row[14], kimg=kimg))
        return out

    def runs(self) -> list[dict]:
        rows = self._db.execute("SELECT run_id, name, created FROM runs ORDER BY created").fetchall()
        return [{"run_id": a, "name": b, "created": c} for a, b, c in rows]

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
