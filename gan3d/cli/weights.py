"""``gan3d weights list|add|path|verify|convert``."""

from __future__ import annotations

from pathlib import Path

from .. import cache
from ..errors import ChecksumError, InputError
from ..registry import list_models, model_card


def register(sub) -> None:
    p = sub.add_parser("weights", help="manage cached weights", description="Manage the checkpoint cache "
                       "(set GAN3D_HOME to move it; extra folders in GAN3D_PATH are searched too).")
    ws = p.add_subparsers(dest="weights_command", metavar="ACTION", parser_class=type(p))
    q = ws.add_parser("list", help="what is cached: sizes and verification")
    q.set_defaults(func=run_list)
    q = ws.add_parser("add", help="copy a hand-downloaded file into the cache (sha256-verified)")
    q.add_argument("file")
    q.add_argument("--model", required=True, help="registered model name the file belongs to")
    q.add_argument("--as", dest="filename", default=None, help="which of the card's files this is")
    q.set_defaults(func=run_add)
    q = ws.add_parser("path", help="print where a model's files are (or would be) cached")
    q.add_argument("name")
    q.set_defaults(func=run_path)
    q = ws.add_parser("verify", help="re-hash cached files against their cards' sha256")
    q.add_argument("names", nargs="*", help="models to verify (default: all)")
    q.set_defaults(func=run_verify)
    q = ws.add_parser("convert", help="write a checkpoint in gan3d's safe form (config.json + weights.pt)")
    q.add_argument("checkpoint", help="a checkpoint in a method's own format, or a registered name")
    q.add_argument("out", help="output folder")
    q.set_defaults(func=run_convert)
    p.set_defaults(func=lambda a: p.print_help() or 2)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run_list(args) -> int:
    print(f"cache: {cache.home()}")
    any_file = False
    for name in list_models():
        for f in cache.status(model_card(name)):
            if f.path is not None:
                any_file = True
                print(f"  {name:32s} {f.filename:40s} {_size(f.size):>10s}  {f.status}  {f.path}")
    if not any_file:
        print("  (nothing cached)")
    return 0


def run_add(args) -> int:
    card = model_card(args.model)
    dest = cache.add(args.file, card, args.filename)
    wf = next(w for w in card.weights if w.filename == dest.name)
    state = "sha256 verified" if wf.sha256 else "no sha256 pinned on the card, not verified"
    print(f"added {dest} ({state})")
    return 0


def run_path(args) -> int:
    card = model_card(args.name)
    if not card.weights:
        print(f"{card.name} needs no weights")
    for wf, st in zip(card.weights, cache.status(card)):
        print(st.path if st.path else cache.search_paths(card, wf)[0])
    return 0


def run_verify(args) -> int:
    names = args.names or list_models()
    bad = 0
    for name in names:
        for f in cache.status(model_card(name), check=True):
            if f.status == "missing":
                continue
            print(f"{f.status:10s} {name} {f.filename}")
            bad += f.status == "MISMATCH"
    if bad:
        raise ChecksumError(f"{bad} file(s) do not match their sha256; delete and download them again")
    return 0


def run_convert(args) -> int:
    from ..registry import load

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; choose a new folder")
    gen = load(args.checkpoint)
    gen.save_pretrained(out)
    print(f"wrote {out / 'config.json'} and {out / 'weights.pt'}; load with gan3d.load({str(out)!r})")
    return 0
