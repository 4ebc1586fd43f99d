"""The training loop every method runs in (StyleGAN2/EG3D's ``training_loop.py``, method-agnostic).

Per iteration: the next real batch (this process's share), ``trainer.prepare`` (the phases' inputs,
drawn from the run's :class:`~gan3d.train.parallel.ShardedDraws`), each phase whose interval divides
the iteration index through :func:`~gan3d.train.step.run_phase_rounds`, the EMA update, then
``trainer.after_iteration``. Every ``tick_kimg`` a record goes to ``log.jsonl`` and TensorBoard and the
health checks look at it; at snapshot ticks the EMA generator, an image grid and the full training
state are written (rank 0), and the metrics are measured into the results store.
"""

from __future__ import annotations

import copy
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import InputError
from ..io import write_text_atomic
from .config import ResolvedConfig, config_run_name, reference_of
from .grid import write_grid
from .health import HealthMonitor, check_finite
from .logs import RunLog, TickRecord, TickStats
from .method import Batch, Progress
from .parallel import ShardedDraws, barrier, broadcast_object, broadcast_parameters, mean_across, training_device
from .snapshot import (CONFIG, create_run_dir, latest_snapshot, read_state, rng_states, set_rng_states,
                       snapshot_name, write_machine, write_snapshot)
from .step import ema_update, make_optimizer, run_phase_rounds

STATE_FORMAT = "gan3d-training-state"


def _determinism_state() -> tuple:
    return (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)


def _restore_determinism(state: tuple) -> None:
    torch.use_deterministic_algorithms(state[0], warn_only=state[1])
    (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = state[2:]


def set_determinism(flag: bool) -> None:
    """Deterministic kernels (and no autotuning) when ``flag``; the fast defaults otherwise."""
    if flag:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS
    torch.use_deterministic_algorithms(flag, warn_only=True)
    torch.backends.cudnn.benchmark = not flag
    torch.backends.cudnn.deterministic = flag
    if flag:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _record_kimg(run_dir: Path, kimg: float) -> None:
    """A resumption's training length (``--kimg``) becomes the run's own in ``train-config.json``: the next
    plain ``--resume`` continues to it, and a packed model's card reads it."""
    path = run_dir / CONFIG
    saved = ResolvedConfig.model_validate_json(path.read_text())
    if saved.kimg != kimg:
        config = saved.config.model_copy(update={"kimg": kimg})
        write_text_atomic(path, saved.model_copy(update={"kimg": kimg, "config": config}).model_dump_json(indent=2))


def _rounds(real: Batch, batch_gpu: int) -> list[Batch]:
    """``real`` cut into ``batch_gpu``-sized slices (gradient accumulation rounds)."""
    n = real.image.shape[0]
    if batch_gpu >= n:
        return [real]
    cut = [None if t is None else t.split(batch_gpu) for t in (real.image, real.label, real.mask)]
    return [Batch(*(None if c is None else c[i] for c in cut)) for i in range(len(cut[0]))]


def _reduce_logs(logs: dict[str, torch.Tensor]) -> dict[str, float]:
    """One iteration's logged values as floats, averaged over processes (sorted keys: same order everywhere)."""
    if not logs:
        return {}
    keys = sorted(logs)
    vec = torch.stack([logs[k].detach().float().mean().cpu() for k in keys])
    return dict(zip(keys, mean_across(vec).tolist()))


def _postfix(means: dict[str, float]) -> str:
    """The phases' losses (``Loss/<phase>``), not the finer values logged under them."""
    losses = [(k.removeprefix("Loss/"), v) for k, v in means.items() if k.startswith("Loss/") and k.count("/") == 1]
    return " ".join(f"{k} {v:.3f}" for k, v in losses[:6])


class _Run:
    """The state of one training process: networks, optimizers, data, counters."""

    def __init__(self, resolved: ResolvedConfig, resume: Path | None, progress: bool):
        from ..data import InfiniteSampler, collate, open_dataset
        from ..registry import trainer_entry
        from ..runs import init_distributed

        cfg = self.cfg = resolved.config
        self.resolved = resolved
        self.rank, self.world = init_distributed(cfg.device)
        self.device = training_device(cfg.device)
        if resolved.batch % self.world:
            raise InputError(f"batch {resolved.batch} does not split evenly over {self.world} processes")
        self.local_batch = resolved.batch // self.world
        self.batch_gpu = min(cfg.batch_gpu or self.local_batch, self.local_batch)
        if self.local_batch % self.batch_gpu:
            raise InputError(f"batch_gpu {self.batch_gpu} must divide the per-process batch {self.local_batch}")
        self.progress = progress and self.rank == 0
        set_determinism(cfg.deterministic)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)  # the same initial networks in every process

        self.dataset = open_dataset(cfg.data, xflip=cfg.xflip)
        entry = trainer_entry(cfg.method)
        self.trainer = entry.build(entry.options(**resolved.options), self.dataset.info(), self.device)
        for net in self.trainer.networks.values():
            # gradients only for the network of the running phase (run_phase switches it on and off)
            net.to(self.device).requires_grad_(False)
            broadcast_parameters(net)
        specs = self.trainer.optimizers()
        self.optimizers = {name: make_optimizer(self.trainer.networks[name], spec) for name, spec in specs.items()}
        self.phases = self.trainer.phases()
        missing = sorted({p.network for p in self.phases} - set(self.optimizers))
        if missing:
            raise InputError(f"trainer {cfg.method!r} has phases for {missing} but no optimizer settings for them")
        ema_key = self.trainer.ema
        self.ema = (copy.deepcopy(self.trainer.networks[ema_key]).eval().requires_grad_(False)
                    if ema_key is not None else None)
        self.sampler = InfiniteSampler(len(self.dataset), self.rank, self.world, seed=cfg.seed)
        self.draws = ShardedDraws(cfg.seed, self.rank, self.world)
        self.health = HealthMonitor(pairs=self.trainer.health_pairs)
        self.counters = {"cur_nimg": 0, "batch_idx": 0, "cur_tick": 0, "tick_start_nimg": 0,
                         "last_snap_nimg": 0, "snapshots": 0}
        self.last_snapshot: str | None = None
        if resume is not None:
            self.run_dir = Path(resume)
            self._load(latest_snapshot(self.run_dir))
            if self.rank == 0:
                _record_kimg(self.run_dir, resolved.kimg)
        else:
            run_dir = None
            if self.rank == 0:
                name = config_run_name(cfg.model_dump())
                run_dir = str(create_run_dir(Path(cfg.out).expanduser(), name))
                write_text_atomic(Path(run_dir) / CONFIG, resolved.model_dump_json(indent=2))
                write_machine(Path(run_dir), self.world, self.device)
            self.run_dir = Path(broadcast_object(run_dir))
        self.trainer.run_name = self.run_dir.name  # trained models' cards are named after the run
        self.batch_idx_at_load = self.counters["batch_idx"]
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=self.local_batch, sampler=self.sampler, num_workers=cfg.num_workers,
            collate_fn=collate, pin_memory=self.device.type == "cuda",
            # its own generator: creating the iterator must not draw from torch's global stream
            generator=torch.Generator().manual_seed(cfg.seed * self.world + self.rank))
        self.log = RunLog(self.run_dir, enabled=self.rank == 0,
                          resumed_nimg=self.counters["cur_nimg"] if resume is not None else None)

    # ------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        consumed = (self.counters["batch_idx"] - self.batch_idx_at_load) * self.local_batch
        return _to_cpu({
            "format": STATE_FORMAT, "version": 1, "method": self.cfg.method,
            "networks": {k: m.state_dict() for k, m in self.trainer.networks.items()},
            "ema": None if self.ema is None else self.ema.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "sampler": self.sampler.state_dict(consumed=consumed),
            "draws": self.draws.state_dict(),
            "rng": rng_states(self.device),
            "counters": dict(self.counters),
            "health": self.health.state_dict(),
            "trainer": self.trainer.extra_state(),
        })

    def _load(self, snapshot: Path) -> None:
        state = read_state(snapshot)
        if state.get("format") != STATE_FORMAT or state.get("method") != self.cfg.method:
            raise InputError(f"{snapshot} is not a {self.cfg.method!r} training state")
        for k, m in self.trainer.networks.items():
            m.load_state_dict(state["networks"][k])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.sampler.load_state_dict(state["sampler"])
        self.draws.load_state_dict(state["draws"])
        set_rng_states(state["rng"], self.device)
        self.counters.update(state["counters"])
        self.health.load_state_dict(state["health"])
        self.trainer.load_extra_state(state.get("trainer") or {})
        self.last_snapshot = snapshot.name

    # ------------------------------------------------------------------------------------ outputs
    def _export(self):
        """The generator snapshots save: the EMA copy, or for a trainer without EMA its ``G`` network."""
        return self.trainer.export(self.ema if self.ema is not None else self.trainer.networks["G"])

    def write_grid(self, path: Path) -> None:
        if self.rank == 0:
            write_grid(self._export(), path, self.cfg.grid_seeds, self.cfg.grid_yaws)

    def snapshot(self) -> Path:
        """Write the snapshot (rank 0); every process returns its folder."""
        name = snapshot_name(self.counters["cur_nimg"])
        snap = self.run_dir / "snapshots" / name
        if self.rank == 0:
            G = self._export()
            write_grid(G, snap / "grid.png", self.cfg.grid_seeds, self.cfg.grid_yaws)
            write_snapshot(self.run_dir, name, G, self.state_dict())
        barrier()
        self.last_snapshot = name
        return snap

    def measure(self, snap: Path) -> None:
        """The config's metrics on the snapshot's EMA generator, into the results store with its kimg."""
        from ..runs import RunConfig, execute

        cfg = self.cfg
        reference = cfg.reference or reference_of(self.dataset)
        cameras = cfg.metric_cameras or ("dataset" if self.dataset.has_labels and reference else "gaussian")
        store = cfg.store or str(self.run_dir / "gan3d-results.sqlite")
        run_cfg = RunConfig(name=self.run_dir.name, models=[str(snap / "generator")], metrics=cfg.metrics,
                            num=cfg.metric_num, cameras=cameras, reference=reference, store=store,
                            device=str(self.device), metric_options=cfg.metric_options)
        kimg = self.counters["cur_nimg"] / 1000
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            results = execute(run_cfg, progress=self.progress, kimg=kimg)
        if self.rank == 0:
            for r in results:
                self.log.scalar(f"Metrics/{r.metric}", r.value, kimg)

    # ------------------------------------------------------------------------------------ the loop
    def run(self) -> Path:
        cfg, c = self.cfg, self.counters
        total = int(round(self.resolved.kimg * 1000))
        batch = self.resolved.batch
        if self.rank == 0:
            print(f"training {cfg.method} on {self.dataset!r}: batch {batch} ({self.world} process(es), "
                  f"{self.device}), {self.resolved.kimg:g} kimg -> {self.run_dir}", file=sys.stderr)
        if c["cur_nimg"] >= total:
            try:
                if cfg.metrics and c["cur_nimg"] - batch < total:
                    # the final snapshot (always measured): a kill during its metrics left them missing
                    self.measure(self.run_dir / "snapshots" / self.last_snapshot)
            finally:
                self.log.close()
            if self.rank == 0:
                print(f"{self.run_dir} is already at {c['cur_nimg'] / 1000:g} kimg; raise --kimg to train further",
                      file=sys.stderr)
            return self.run_dir
        if c["batch_idx"] == 0:
            self.write_grid(self.run_dir / "grids" / f"{snapshot_name(0)}.png")
        elif cfg.metrics and c["snapshots"] % cfg.metric_snaps == 0:
            # a kill during the metrics of the snapshot resumed from: measure what is missing (stored results
            # of this snapshot are skipped by the store)
            self.measure(self.run_dir / "snapshots" / self.last_snapshot)
        net_ema = self.trainer.networks[self.trainer.ema] if self.ema is not None else None
        stats = TickStats()
        bar = tqdm(total=total, initial=c["cur_nimg"], unit_scale=1 / 1000, disable=not self.progress,  # counts images
                   bar_format="{l_bar}{bar}| {n:.3f}/{total:g} kimg [{elapsed}<{remaining}{postfix}]")
        start_time = tick_time = time.time()
        tick_nimg = int(round(cfg.tick_kimg * 1000))
        data = iter(self.loader)
        try:
            while True:
                real = next(data).to(self.device)
                prog = Progress(c["cur_nimg"], c["batch_idx"], batch)
                rounds = [(r, self.trainer.prepare(r, self.draws, prog)) for r in _rounds(real, self.batch_gpu)]
                logs: dict[str, torch.Tensor] = {}
                for phase in self.phases:
                    if c["batch_idx"] % phase.interval:
                        continue
                    logs.update(run_phase_rounds(self.trainer, phase, self.optimizers[phase.network], rounds,
                                                 self.draws, prog))
                values = _reduce_logs(logs)
                check_finite(values, f"kimg {c['cur_nimg'] / 1000:.3f} (iteration {c['batch_idx']})",
                             self.last_snapshot and str(self.run_dir / "snapshots" / self.last_snapshot))
                if self.ema is not None:
                    ema_update(self.ema, net_ema, self.trainer.ema_beta(prog))
                c["cur_nimg"] += batch
                c["batch_idx"] += 1
                self.trainer.after_iteration(Progress(c["cur_nimg"], c["batch_idx"], batch), values)
                stats.add(values)
                bar.update(batch)
                done = c["cur_nimg"] >= total
                if not done and c["cur_nimg"] < c["tick_start_nimg"] + tick_nimg:
                    continue
                self._tick(stats, tick_time, start_time, bar)
                stats, tick_time = TickStats(), time.time()
                if self._snapshot_due(done):
                    c["snapshots"] += 1  # before the state is written: a resumed run counts this one
                    snap = self.snapshot()
                    if cfg.metrics and (done or c["snapshots"] % cfg.metric_snaps == 0):
                        self.measure(snap)
                elif cfg.image_ticks and c["cur_tick"] % cfg.image_ticks == 0:
                    self.write_grid(self.run_dir / "grids" / f"{snapshot_name(c['cur_nimg'])}.png")
                if done:
                    break
        finally:
            bar.close()
            self.log.close()
            del data  # stops the loader's workers
        return self.run_dir

    def _tick(self, stats: TickStats, tick_time: float, start_time: float, bar) -> None:
        c = self.counters
        now = time.time()
        shown = max(c["cur_nimg"] - c["tick_start_nimg"], 1)
        means = stats.means()
        record = TickRecord(tick=c["cur_tick"], kimg=c["cur_nimg"] / 1000, batch_idx=c["batch_idx"],
                            sec_per_kimg=(now - tick_time) / shown * 1000, time=now - start_time, timestamp=now,
                            losses=means,
                            schedule=self.trainer.schedule(Progress(c["cur_nimg"], c["batch_idx"], self.resolved.batch)))
        if self.rank == 0:
            self.log.write(record)
            bar.set_postfix_str(f"{record.sec_per_kimg:.1f} s/kimg {_postfix(means)}")
        warning = self.health.update(means)
        if warning and self.rank == 0:
            tqdm.write(f"warning: at {record.kimg:g} kimg {warning}", file=sys.stderr)
            self.log.warning(warning, record.kimg)
        c["cur_tick"] += 1
        c["tick_start_nimg"] = c["cur_nimg"]

    def _snapshot_due(self, done: bool) -> bool:
        cfg, c = self.cfg, self.counters
        if done:
            due = True
        elif cfg.snap_kimg is not None:
            due = c["cur_nimg"] >= c["last_snap_nimg"] + cfg.snap_kimg * 1000
        else:
            due = c["cur_tick"] % (cfg.snap_ticks or 50) == 0
        if due:
            c["last_snap_nimg"] = c["cur_nimg"]
        return due


def train(resolved: ResolvedConfig, resume: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Train ``resolved`` (from :func:`gan3d.train.config.resolve_config`) into a new run folder, or continue
    the run folder ``resume`` from its latest snapshot; returns the run folder.

    Under ``torchrun`` every process calls this; each trains on ``batch / world`` images per iteration.
    """
    from .snapshot import check_run_dir

    run_dir = check_run_dir(resume) if resume is not None else None
    before = _determinism_state()
    try:
        return _Run(resolved, run_dir, progress).run()
    finally:  # a caller's process (a notebook, a test session) keeps its own settings
        _restore_determinism(before)
