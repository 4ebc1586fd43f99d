"""Models gan3d knows of before their plugin is installed, so users learn what to install.

Data only: the core never imports a plugin. Installed plugins' cards always take precedence.
"""

from __future__ import annotations

# method -> (distribution, variants); the first variant is the method's flagship (what the demo shows)
KNOWN: dict[str, tuple[str, tuple[str, ...]]] = {
    "eg3d": ("gan3d-eg3d", ("ffhq512-128", "ffhq512-64", "ffhqrebalanced512-64", "ffhqrebalanced512-128",
                            "afhqcats512-128", "shapenetcars128-64")),
    "liftedgan": ("gan3d-liftedgan", ("ffhq256", "afhqcat256")),
    "cnerf": ("gan3d-cnerf", ("ffhq512",)),
}


def known_names() -> dict[str, str]:
    """``{"method/variant": distribution}`` for every catalogued model."""
    return {f"{m}/{v}": dist for m, (dist, variants) in KNOWN.items() for v in variants}


def install_hint(name: str) -> str | None:
    """How to get a catalogued model whose plugin is missing, or None."""
    method = name.split("/", 1)[0]
    if method not in KNOWN:
        return None
    dist = KNOWN[method][0]
    return f"{name} is provided by the {dist} plugin, which is not installed: pip install ./plugins/{dist}"
