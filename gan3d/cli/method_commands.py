"""Shared commands whose options belong to each method: ``gan3d video MODEL ...``, ``gan3d inspect MODEL ...``.

The core parses only the model, finds its method (from the card, or by loading a checkpoint path) and
hands the rest of the command line to that method's :class:`~gan3d.registry.MethodCommand`, whose own
parser gives ``gan3d video MODEL --help``.
"""

from __future__ import annotations

import argparse

from ..errors import InputError


def register(sub) -> None:
    from ..registry import method_commands

    by_name: dict[str, list] = {}
    for (name, method), mc in sorted(method_commands().items()):
        by_name.setdefault(name, []).append(mc)
    for name, mcs in by_name.items():
        methods = "\n".join(f"  {mc.method:10s} {mc.help}" for mc in mcs)
        p = sub.add_parser(name, help=f"{name} (per method: {', '.join(mc.method for mc in mcs)})",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           description=f"`gan3d {name} MODEL [options]`: the options depend on the model's method; "
                                       f"`gan3d {name} MODEL --help` lists them.\n\n{methods}")
        p.add_argument("model", help="registered name or checkpoint path")
        p.add_argument("options", nargs=argparse.REMAINDER, help="the method's options")
        p.set_defaults(func=lambda args, _name=name: run(_name, args))


def run(name: str, args) -> int:
    from ..registry import _looks_like_path, list_models, load, method_commands, model_card
    from .main import _Parser

    generator = None
    if args.model in list_models():
        method = model_card(args.model).method
    elif _looks_like_path(args.model):
        generator = load(args.model)
        method = generator.card.method
    else:
        method = model_card(args.model).method  # raises: unknown model, with suggestions
    mc = method_commands().get((name, method))
    if mc is None:
        have = sorted(m for (n, m) in method_commands() if n == name)
        raise InputError(f"`gan3d {name}` is not available for {method} models; it is for: {', '.join(have)}")
    parser = _Parser(prog=f"gan3d {name}", description=mc.help)
    mc.add_arguments(parser)
    try:
        ns = parser.parse_args([args.model, *args.options])
    except SystemExit as e:  # --help or a usage error of the method's own parser
        return int(e.code or 0)
    ns.generator = generator
    return int(mc.run(ns) or 0)
