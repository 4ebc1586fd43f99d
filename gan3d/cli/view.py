"""``gan3d view``: a local web page showing up to three models side by side, on one latent and camera."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from ..errors import InputError
from .args import RANDOM_WEIGHTS_HELP, add_device_argument, load_model


def register(sub) -> None:
    p = sub.add_parser(
        "view", help="look at models in the browser (side by side, same latent and camera direction)",
        description="Starts a small web server (127.0.0.1 by default) with a page that shows up to three of the "
                    "given models on identical latents, seen from the same direction at each card's own distance "
                    "and focal length: seed or latents-file row, truncation, yaw/pitch sliders and dragging, field "
                    "of view, image/raw/depth/semantic views, method controls (LiftedGAN's light, CNeRF's regions "
                    "and region swaps), PNG and orbit-MP4 saving. Models load on first use.")
    p.add_argument("models", nargs="*", help="registered names or checkpoint paths (default: the demo's choice: "
                                             "trained models that ship, then one per method whose weights are here)")
    p.add_argument("--latents", default=None,
                   help="a .pt/.npz latent file (e.g. compare's latents.pt); the page then picks rows of it")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--random-weights", action="store_true", help=RANDOM_WEIGHTS_HELP)
    p.add_argument("--random-if-missing", action="store_true",
                   help="run models whose weights are missing with random weights (labelled), e.g. offline")
    p.add_argument("--verbose", action="store_true", help="log every request")
    add_device_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..latents import Latents
    from ..registry import list_models, model_entry
    from ..view import ViewServer, ViewSession

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in [0, 65535], got {args.port}")
    names = args.models or _default_models(args)
    for name in names:  # a typo is reported now, not when the page first asks for the model
        if name not in list_models() and not Path(name).exists():
            model_entry(name)  # raises UnknownModelError with the nearest registered names
    latents = Latents.load_all(args.latents) if args.latents else None
    session = ViewSession(names, partial(_load, args), latents)
    try:
        server = ViewServer(session, args.host, args.port, verbose=args.verbose)
    except OSError as e:
        raise InputError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e}); pick another --port") from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach this address can use the viewer",
              file=sys.stderr)
    print(f"gan3d view: {server.url}  ({len(names)} model(s); Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _default_models(args) -> list[str]:
    """The demo's choice: shipped trained models, then per method one whose weights are here (or, with
    --random-weights/--random-if-missing, its flagship untrained); the others are listed with how to add them."""
    from ..demo import plan_models

    plan = plan_models(None, random_weights=args.random_weights or args.random_if_missing)
    for name, how in plan.missing.items():
        print(f"not offered, weights missing: {name}  ({how})", file=sys.stderr)
    if not plan.names:
        raise InputError("no model can be shown: no weights are here; add them (gan3d weights add), name models "
                         "to view, or pass --random-if-missing to see untrained networks (labelled)")
    return plan.names


def _load(args, name: str):
    return load_model(args, name)
