"""``gan3d leaderboard``: the results store as Markdown, HTML or CSV."""

from __future__ import annotations

from pathlib import Path

from .. import leaderboard
from ..errors import InputError
from ..store import DEFAULT_STORE, ResultStore
from .args import output_file


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="tables of stored results (md, html, csv)",
                       description="One table per dataset; a column per metric and protocol; published numbers "
                                   "in their own column, never ranked.")
    p.add_argument("--store", default=DEFAULT_STORE, help=f"results database (default {DEFAULT_STORE})")
    p.add_argument("--format", choices=("md", "html", "csv"), default=None, help="default: from --out, else md")
    p.add_argument("--out", default=None, help="write here instead of printing")
    p.add_argument("--grid", action="append", default=[], help="comparison grid PNG to embed in the HTML")
    p.set_defaults(func=run)


def run(args) -> int:
    if not Path(args.store).is_file():
        raise InputError(f"no results store at {args.store}; run `gan3d evaluate` first or pass --store")
    for g in args.grid:
        if not Path(g).is_file():
            raise InputError(f"--grid {g} does not exist; give a grid.png that `gan3d compare` wrote")
        with open(g, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":  # the page embeds it as a PNG
                raise InputError(f"--grid {g} is not a PNG image; give a grid.png that `gan3d compare` wrote")
    if args.out:
        output_file(args.out)
    with ResultStore(args.store) as store:
        results = store.results()
    if args.out:
        path = leaderboard.write(results, args.out, args.format, images=args.grid)
        print(f"wrote {path}")
    else:
        print(leaderboard.render(results, args.format or "md", images=args.grid))
    return 0
