"""What training writes while it runs: one record per tick to ``log.jsonl`` and to TensorBoard, and the
health warnings to ``health.log``.

A record holds the tick's kimg, the losses (and every other logged value) averaged over the tick's
iterations, the schedule values, seconds per kimg and the time. Under ``torchrun`` the values are
averaged over processes before they get here; only rank 0 writes.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class TickRecord(BaseModel):
    """One line of ``log.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    tick: int
    kimg: float
    batch_idx: int
    sec_per_kimg: float = Field(description="wall seconds per thousand real images during the tick")
    time: float = Field(description="seconds since the run (or its resumption) started")
    timestamp: float
    losses: dict[str, float | None] = Field(description="mean over the tick's iterations (None: not finite)")
    schedule: dict[str, float] = Field(default_factory=dict)


class TickStats:
    """Running sums of the per-iteration values of one tick."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in sorted(self.sums)}


class RunLog:
    """``log.jsonl`` (appended, one flushed line per tick), ``health.log`` (one line per warning) and
    TensorBoard event files in the run folder."""

    def __init__(self, run_dir: Path, enabled: bool = True, resumed_nimg: int | None = None):
        """``resumed_nimg``: the run continues from a snapshot at this many images; the records and warnings
        after it (written before a kill, and now done again) are dropped from all the logs."""
        self.path = Path(run_dir) / "log.jsonl"
        self.health_path = Path(run_dir) / "health.log"
        self.enabled = enabled
        self._tb = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            if resumed_nimg is not None:
                for path in (self.path, self.health_path):
                    _truncate_after(path, resumed_nimg / 1000)
            # TensorBoard hides the older files' events from purge_step on
            self._tb = SummaryWriter(log_dir=str(run_dir),
                                     purge_step=None if resumed_nimg is None else resumed_nimg + 1)

    def write(self, record: TickRecord) -> None:
        if not self.enabled:
            return
        line = record.model_dump(mode="json")
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
        step = int(round(record.kimg * 1000))  # TensorBoard's step: images shown, as StyleGAN's logs use
        for k, v in record.losses.items():
            if v is not None:
                self._tb.add_scalar(k, v, step, walltime=record.timestamp)
        for k, v in record.schedule.items():
            self._tb.add_scalar(f"Schedule/{k}", v, step, walltime=record.timestamp)
        self._tb.add_scalar("Timing/sec_per_kimg", record.sec_per_kimg, step, walltime=record.timestamp)
        self._tb.flush()

    def warning(self, text: str, kimg: float) -> None:
        """A health warning (:class:`~gan3d.train.health.HealthMonitor`) at ``kimg``, as a ``health.log`` line."""
        if self.enabled:
            with open(self.health_path, "a") as f:
                f.write(json.dumps({"kimg": kimg, "warning": text}) + "\n")

    def scalar(self, name: str, value: float, kimg: float) -> None:
        """A value outside the tick records (a metric at a snapshot)."""
        if self.enabled and math.isfinite(value):
            self._tb.add_scalar(name, value, int(round(kimg * 1000)), walltime=time.time())
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _truncate_after(path: Path, kimg: float) -> None:
    """Keep the JSON lines of ``path`` whose ``kimg`` is at most ``kimg`` (and drop lines cut short)."""
    if not path.is_file():
        return
    from ..io import write_text_atomic

    keep = [line for line in path.read_text().splitlines()
            if line.strip() and _kimg_of(line) is not None and _kimg_of(line) <= kimg + 1e-9]
    write_text_atomic(path, "".join(line + "\n" for line in keep))


def _kimg_of(line: str) -> float | None:
    try:
        return float(json.loads(line)["kimg"])
    except (ValueError, KeyError, TypeError):
        return None  # a line cut short by a kill


def read_log(run_dir: str | Path) -> list[TickRecord]:
    """The tick records of a run folder (a last line cut short by a kill is skipped)."""
    path = Path(run_dir) / "log.jsonl"
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                out.append(TickRecord.model_validate_json(line))
            except ValueError:
                continue
    return out


def metric_curve(run_dir: str | Path, metric: str) -> list[tuple[float, float]]:
    """``[(kimg, value), ...]`` of ``metric`` measured at a run's snapshots, from the results store the run
    wrote to, sorted by kimg (the metric-against-training-progress curve)."""
    from ..store import ResultStore
    from .config import ResolvedConfig
    from .snapshot import CONFIG

    run = Path(run_dir)
    cfg = ResolvedConfig.model_validate_json((run / CONFIG).read_text()).config
    store = Path(cfg.store) if cfg.store else run / "gan3d-results.sqlite"
    if not store.is_file():
        return []
    with ResultStore(store) as s:
        rows = [r for r in s.results() if r.metric == metric and r.kimg is not None and _of_run(r.model, run)]
    return sorted((r.kimg, r.value) for r in rows)


def _of_run(model: str, run: Path) -> bool:
    """Whether a stored model path is a snapshot of ``run``. The loop stores the path as the run folder was
    named when training (relative to that process's working folder when ``out`` was relative), so a relative
    path is matched by its ``<run>/snapshots/<kimg>/generator`` tail, an absolute one by its real location."""
    from .snapshot import SNAPSHOTS

    path = Path(model)
    if len(path.parts) < 4 or path.parts[-3] != SNAPSHOTS:
        return False
    if path.is_absolute():
        return path.parents[2].resolve() == run.resolve()
    return path.parts[-4] == run.resolve().name
