"""The ``gan3d`` command line: one entry point, sub-commands from the core and from plugins."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings

from ..errors import Gan3dError

# Core command modules, each with ``register(subparsers)``; missing ones (optional parts) are skipped.
_CORE_COMMANDS = ("gan3d.cli.models", "gan3d.cli.weights", "gan3d.cli.generate", "gan3d.cli.evaluate",
                  "gan3d.cli.compare", "gan3d.cli.leaderboard", "gan3d.cli.demo",
                  "gan3d.cli.method_commands", "gan3d.cli.dataset", "gan3d.cli.train", "gan3d.cli.view",
                  "gan3d.cli.reproduce")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``gan3d: error: ...``), exit status 2."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


_NEGATIVE_LIST = re.compile(r"^-\.?\d[\d.,:eE+-]*$")


def _join_negative_lists(argv: list[str]) -> list[str]:
    """``--yaw -0.4,0,0.4`` -> ``--yaw=-0.4,0,0.4`` (also ``-1.2:1.2:7``): argparse would read an option."""
    out: list[str] = []
    for tok in argv:
        if (out and out[-1].startswith("--") and "=" not in out[-1] and _NEGATIVE_LIST.match(tok)
                and ("," in tok or ":" in tok)):
            out[-1] = f"{out[-1]}={tok}"
        else:
            out.append(tok)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gan3d", description="Run, compare and evaluate 3D-aware GANs.")
    parser.add_argument("--version", action="version", version=f"gan3d {__import__('gan3d').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _CORE_COMMANDS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        mod.register(sub)
    from ..registry import plugin_manager

    pm = plugin_manager()
    for impl in pm.hook.gan3d_add_commands.get_hookimpls():
        try:  # a plugin whose commands fail to build must not take the whole CLI down
            impl.function(subparsers=sub)
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"plugin {pm.get_name(impl.plugin)!r} failed to add its commands: {type(e).__name__}: {e}",
                          RuntimeWarning, stacklevel=2)
    return parser


# Python API parameter -> the flag a user typed: an error raised deep in a model names the former
_FLAG_OF = {"truncation_psi": "--trunc", "truncation_cutoff": "--trunc-cutoff", "fov_degrees": "--fov",
            "neural_rendering_resolution": "--nrr", "sample_mult": "--sample-mult"}
_API_NAME = re.compile(r"\b(" + "|".join(_FLAG_OF) + r")\b(?= must)")


def _flag_names(message: str) -> str:
    """``"truncation_cutoff must be ..."`` -> ``"--trunc-cutoff must be ..."``."""
    return _API_NAME.sub(lambda m: _FLAG_OF[m.group(1)], message)


def _worker_message(message: str) -> str:
    """The error a ``DataLoader`` worker raised, without the worker's traceback that torch wraps around it
    (``"Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback ...\n...DatasetError: MSG"``
    -> ``"MSG"``)."""
    if not (message.startswith("Caught ") and "\nOriginal Traceback" in message):
        return message
    return re.sub(r"^[\w.]+: ", "", message.rstrip().splitlines()[-1], count=1)


def _close_progress_bars() -> None:
    """End open progress bars, so that an error starts on its own line rather than after a bar."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def main(argv: list[str] | None = None) -> int:
    warnings.simplefilter("default", RuntimeWarning)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(_join_negative_lists(sys.argv[1:] if argv is None else list(argv)))
        except SystemExit as e:  # --help, --version and usage errors end here
            return int(e.code or 0)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0 if args.command is None else 2
        return int(args.func(args) or 0)
    except Gan3dError as e:
        _close_progress_bars()
        print(f"gan3d: error: {_flag_names(_worker_message(str(e)))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `gan3d models | head`
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as e:
        # locations that cannot be written (read-only, full disk), inputs that vanished: which path, no traceback
        _close_progress_bars()
        print(f"gan3d: error: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gan3d: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
