"""``gan3d train CONFIG [--kimg N]``, ``gan3d train --resume RUN_DIR``, ``gan3d train --list``.

Everything in the config is checked before any work (method, preset, options, data, metrics, output
folder); under ``torchrun --nproc_per_node N -m gan3d train CONFIG`` each process trains on its share
of the batch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a method from a config (TOML or YAML), or resume a run",
        description="Train a method: `gan3d train CONFIG` starts a run folder under the config's `out`; "
                    "`gan3d train --resume RUN_DIR` continues it from its latest snapshot. Under torchrun each "
                    "process trains on batch/N images. `gan3d train --list` shows the methods and presets.")
    p.add_argument("config", nargs="?", help="training config (.toml or .yaml)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run folder from its latest snapshot")
    p.add_argument("--kimg", type=float, help="train until this many kimg (overrides the config or the run's)")
    p.add_argument("--list", action="store_true", help="list the registered methods and their presets")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def list_methods() -> str:
    from ..registry import list_trainers, trainer_entry

    lines = []
    for method in list_trainers():
        e = trainer_entry(method)
        lines.append(f"{method}  ({e.plugin or 'core'})  {e.description}".rstrip())
        for name, preset in sorted(e.presets.items()):
            extra = ", ".join(f"{k}={preset[k]}" for k in ("batch", "kimg") if k in preset)
            lines.append(f"  preset {name}" + (f"  ({extra})" if extra else ""))
    return "\n".join(lines) if lines else "no trainers installed (install a method plugin, e.g. gan3d-eg3d)"


def resume_config(run_dir: Path, config: str | None, kimg: float | None):
    """The resolved config of a run folder (``--kimg`` applied); a CONFIG given too must agree with it."""
    from ..train.config import ResolvedConfig, load_train_config, names_run, resolve_config
    from ..train.snapshot import CONFIG

    saved = ResolvedConfig.model_validate_json((run_dir / CONFIG).read_text())
    data = saved.config.model_dump(exclude_unset=True)
    data["options"] = saved.options  # the merged options, exactly as the run used them
    data["batch"], data["kimg"] = saved.batch, kimg if kimg is not None else saved.kimg
    if config is not None:
        # run:NAME stays as written: the run keeps the snapshot it started with, even when NAME has a newer one
        given = resolve_config(load_train_config(config), str(config), check_output=False, check_data=False,
                               defer_runs=True)
        mine = resolve_config(data, f"{run_dir}/{CONFIG}", check_output=False, check_data=False)
        diff = [k for k in ("method", "data", "xflip", "seed", "deterministic")
                if getattr(given.config, k) != getattr(mine.config, k)]
        diff += [f"options.{k}" for k in sorted(set(given.options) | set(mine.options))
                 if given.options.get(k) != mine.options.get(k)
                 and not names_run(given.options.get(k), mine.options.get(k))]
        diff += ["batch"] if given.batch != mine.batch else []
        if diff:
            raise InputError(f"{config} differs from the run being resumed in {', '.join(diff)}; resume with "
                             f"`gan3d train --resume {run_dir}` alone (its own config), or start a new run")
    return resolve_config(data, f"{run_dir}/{CONFIG}", check_output=False)


def run(args) -> int:
    if args.list:
        print(list_methods())
        return 0
    from ..train.config import load_train_config, resolve_config
    from ..train.loop import train
    from ..train.snapshot import check_run_dir

    if args.kimg is not None and not args.kimg > 0:
        raise InputError(f"--kimg must be positive, got {args.kimg}")
    if not args.resume and not args.config:
        raise InputError("give a training config (gan3d train CONFIG), --resume RUN_DIR, or --list")
    run_dir = check_run_dir(args.resume) if args.resume else None
    raw = None if run_dir else load_train_config(args.config)
    rank, _ = _join_processes(raw, run_dir)

    def check():
        if run_dir is not None:
            return resume_config(run_dir, args.config, args.kimg)
        if args.kimg is not None:
            raw["kimg"] = args.kimg
        return resolve_config(raw, str(args.config))

    resolved = _checked_once(check, rank)
    out = train(resolved, resume=run_dir, progress=not args.quiet)
    if rank == 0:
        print(json.dumps({"run_dir": str(out)}))
    return 0


def _join_processes(raw: dict | None, run_dir: Path | None) -> tuple[int, int]:
    """Under torchrun, join the process group now (gloo on CPU, NCCL on GPU), so that rank 0 alone checks the
    config and opens (or builds) the data set; without torchrun ``(0, 1)``."""
    from ..runs import init_distributed
    from ..train.config import ResolvedConfig
    from ..train.snapshot import CONFIG

    if raw is not None:
        device = raw.get("device", "auto")
    else:
        device = ResolvedConfig.model_validate_json((run_dir / CONFIG).read_text()).config.device
    return init_distributed(device if isinstance(device, str) else "auto")


def _checked_once(check, rank: int):
    """``check()`` on rank 0; every process gets its result, or raises its error."""
    from ..errors import Gan3dError
    from ..train.config import ResolvedConfig
    from ..train.parallel import broadcast_object, world

    if world()[1] == 1:
        return check()
    payload = None
    if rank == 0:
        try:
            payload = ("ok", check().model_dump_json())
        except Exception as e:  # noqa: BLE001 - the other processes must learn of any failure, not hang
            broadcast_object(("error", f"{type(e).__name__}: {e}" if not isinstance(e, Gan3dError) else str(e)))
            raise
    status, body = broadcast_object(payload)
    if status == "error":
        raise InputError(f"(rank {rank}) rank 0 refused the config: {body.splitlines()[0]}")
    return ResolvedConfig.model_validate_json(body)
