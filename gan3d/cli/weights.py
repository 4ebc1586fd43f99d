"""``gan3d weights list|add|path|verify|convert|pack``."""

from __future__ import annotations

from pathlib import Path

from .. import cache
from ..errors import ChecksumError, InputError
from ..registry import list_models, model_card
from .args import output_dir, output_file


def register(sub) -> None:
    p = sub.add_parser("weights", help="manage cached weights", description="Manage the checkpoint cache "
                       "(set GAN3D_HOME to move it; extra folders in GAN3D_PATH are searched too).")
    ws = p.add_subparsers(dest="weights_command", metavar="ACTION", parser_class=type(p))
    q = ws.add_parser("list", help="what is cached: sizes and verification")
    q.set_defaults(func=run_list)
    q = ws.add_parser("add", help="copy a hand-downloaded file into the cache (sha256-verified, or opened with "
                                  "the method's reader when the card pins no sha256)")
    q.add_argument("file")
    q.add_argument("--model", required=True, help="registered model name the file belongs to")
    q.add_argument("--as", dest="filename", default=None, help="which of the card's files this is")
    q.add_argument("--force", action="store_true", help="replace a file already in the cache")
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
    q = ws.add_parser("pack", help="pack a training snapshot for shipping inside a plugin (fp16 where lossless enough)",
                      description="Write a snapshot of `gan3d train` as a shipped model: the safe form (weights in "
                                  "float16 when the reference views render within the thresholds, else float32), "
                                  "reference.png, and a card with the recipe, data, kimg, training time, machine "
                                  "and the run's FID at the snapshot. A plugin registers every folder under its "
                                  "zoo/ with gan3d.zoo.packaged_models.")
    q.add_argument("snapshot", help="RUN/snapshots/KIMG/generator (or the snapshot folder)")
    q.add_argument("--name", required=True, help="the model's registered name, method/variant (e.g. eg3d/synth64)")
    q.add_argument("--recipe", required=True, help="the training config the run was started from")
    q.add_argument("--out", required=True, help="the packed folder, e.g. plugins/gan3d-eg3d/src/gan3d_eg3d/zoo/synth64")
    precision = q.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="fp16", action="store_true", default=True,
                           help="float16 weights where lossless enough (default)")
    precision.add_argument("--fp32", dest="fp16", action="store_false", help="float32 weights")
    q.add_argument("--dataset", default=None,
                   help="the card's data set (default: 'synthetic heads RES' for synth: data)")
    q.add_argument("--machine", default=None, help="what the run trained on (default: the run's machine.json)")
    q.add_argument("--max-mb", type=float, default=None, help="size limit of the packed folder (default 8)")
    q.add_argument("--force", action="store_true", help="replace an existing packed model")
    q.set_defaults(func=run_pack)
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
    wf = cache.weight_file(card, Path(args.file), args.filename)
    dest = cache.weights_dir(card) / wf.filename
    if dest.exists() and not args.force:
        raise InputError(f"{dest} is already cached; add --force to replace it")
    output_file(dest, "the cache file")
    state = "sha256 verified" if wf.sha256 else _open_with_reader(card, wf, Path(args.file))
    dest = cache.add(args.file, card, wf.filename)
    print(f"added {dest} ({state})")
    return 0


def _open_with_reader(card, wf, src: Path) -> str:
    """With no sha256 pinned: load ``src`` as the card's model with its plugin's own reader (restricted
    unpickling or weights-only loading, no code run); refuse a file that is not that model."""
    from ..errors import CheckpointError, Gan3dError
    from ..registry import model_entry

    files = {wf.filename: src}
    for other, st in zip(card.weights, cache.status(card)):
        if other.filename != wf.filename:
            if st.path is None:
                return (f"no sha256 pinned on the card; {card.name} also needs {other.filename}, which is not "
                        f"cached yet, so the model is checked when that file is added; for now {_intact(src)}")
            files[other.filename] = st.path
    entry = model_entry(card.name)
    try:
        loaded = entry.build(card, files, "cpu")
    except Gan3dError as e:
        raise CheckpointError(f"{src} is not a {card.name} checkpoint, nothing was added: {e}") from None
    except Exception as e:  # noqa: BLE001 - a reader failing on a foreign file is a bad file, not a bug to show
        raise CheckpointError(f"{src} is not a {card.name} checkpoint, nothing was added "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    from ..registry import load

    problem = _architecture_difference(loaded, load(card.name, weights="random"))  # the card's own architecture
    if problem:
        raise CheckpointError(f"{src} holds another network than {card.name}'s ({problem}); nothing was added")
    return (f"no sha256 pinned on the card; opened with the {card.method} plugin's reader without running code: "
            f"every tensor matches {card.name}'s architecture")


def _intact(src: Path) -> str:
    """Check that ``src`` is a complete file of its kind without running anything from it (a torch zip's
    CRCs, a pickle's opcode stream, Python or JSON syntax); a junk or truncated file is an error."""
    import ast
    import json
    import pickletools
    import zipfile

    from ..errors import CheckpointError

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{src} is not a readable checkpoint file ({why}); nothing was added")

    suffix = src.suffix.lower()
    if zipfile.is_zipfile(src):
        try:
            with zipfile.ZipFile(src) as zf:
                broken = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise bad(f"a damaged zip archive: {e}") from None
        if broken is not None:
            raise bad(f"member {broken} of the zip archive fails its CRC")
        return "checked it is an intact torch zip archive (CRCs)"
    if suffix in (".pkl", ".pt", ".pth", ".pickle"):
        try:
            with open(src, "rb") as f:
                for _ in pickletools.genops(f):  # walks the opcodes; builds and runs nothing
                    pass
        except Exception as e:  # noqa: BLE001 - any failure to parse means a broken file
            raise bad(f"not a complete pickle: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        return "checked it is a complete pickle (opcodes only, nothing run)"
    try:
        text = src.read_text(encoding="utf-8")
        if suffix == ".py":
            ast.parse(text)
        elif suffix == ".json":
            json.loads(text)
    except (UnicodeDecodeError, SyntaxError, ValueError) as e:
        raise bad(f"not valid {suffix.lstrip('.') or 'text'}: {str(e).splitlines()[0]}") from None
    return f"checked it is valid {suffix.lstrip('.') or 'text'} (parsed, not run)"


def _architecture_difference(model, reference) -> str:
    """How ``model``'s tensors differ from ``reference``'s (names and shapes), or "" when they match."""
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    missing, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
    shapes = sorted(k for k in want.keys() & have.keys() if want[k] != have[k])
    if shapes:
        k = shapes[0]
        return f"{len(shapes)} tensor(s) of other shapes, e.g. {k} {list(have[k])} instead of {list(want[k])}"
    if missing or extra:
        k = (missing or extra)[0]
        return f"{len(missing)} tensor(s) missing and {len(extra)} unexpected, e.g. {k}"
    return ""


def run_path(args) -> int:
    card = model_card(args.name)
    if not card.weights:
        print(f"{card.name} needs no weights")
    for wf, st in zip(card.weights, cache.status(card)):
        print(st.path if st.path else cache.search_paths(card, wf)[0])
    return 0


def run_verify(args) -> int:
    names = args.names or list_models()
    bad, missing = 0, []
    for name in names:
        card = model_card(name)
        if args.names and not card.weights:
            print(f"{'-':10s} {name} needs no weights")
        for f in cache.status(card, check=True):
            if f.status == "missing":
                if args.names:  # asked for by name: say so
                    print(f"{'missing':10s} {name} {f.filename}")
                    missing.append(f"{name} {f.filename}")
                continue
            print(f"{f.status:10s} {name} {f.filename}")
            bad += f.status == "MISMATCH"
    if bad:
        raise ChecksumError(f"{bad} file(s) do not match their sha256; delete and download them again")
    if missing:
        raise InputError(f"not in the cache: {', '.join(missing)}; add with `gan3d weights add FILE --model NAME`")
    return 0


def run_convert(args) -> int:
    from ..registry import load

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; choose a new folder")
    output_dir(out, "output folder")
    gen = load(args.checkpoint)
    gen.save_pretrained(out)
    print(f"wrote {out / 'config.json'} and {out / 'weights.pt'}; load with gan3d.load({str(out)!r})")
    return 0


def run_pack(args) -> int:
    from ..pack import MAX_MB, pack

    res = pack(args.snapshot, args.name, args.out, args.recipe, fp16=args.fp16, dataset=args.dataset,
               machine=args.machine, max_mb=args.max_mb or MAX_MB, force=args.force)
    for m in res.messages:
        print(m)
    card = res.card
    t = card.training
    fid = f", FID {t.fid.value:.2f} ({t.fid.network})" if t.fid else ", no FID recorded"
    print(f"packed {card.name} ({card.packed.dtype}, {_size(res.bytes)}) into {res.folder}: {t.kimg:g} kimg, "
          f"{t.seconds / 3600:.2f} h on {t.machine}{fid}")
    return 0
