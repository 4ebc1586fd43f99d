"""``gan3d reproduce [RECIPE ...] [--kimg N]``: train shipped models again and compare their FIDs."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="re-train the shipped models from their recipes and compare FIDs",
                       description="Train each recipe from scratch with `gan3d train` (default: every installed "
                                   "plugin's recipes/*synth64*.toml; a recipe whose options name run:NAME trains "
                                   "after the recipe called NAME) and print how far each run's FID lands from "
                                   "the FID on the card of the shipped model packed from that recipe. "
                                   "`make reproduce-synth [KIMG=N]` runs it.")
    p.add_argument("recipes", nargs="*", help="training configs (default: the installed plugins' synth64 recipes)")
    p.add_argument("--kimg", type=float, default=None, help="train each for this many kimg instead (a smaller budget)")
    p.add_argument("--out", default="training-runs/reproduce", help="folder of the new run folders")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..reproduce import reproduce

    done = reproduce(args.recipes or None, kimg=args.kimg, out=args.out, progress=not args.quiet)
    print("\nreproduction:")
    for rep in done:
        print("  " + rep.summary().replace("\n", "\n  "))
    return 0
