"""Reading LiftedGAN checkpoints without running code from them.

* The authors' format: a folder with ``checkpoint_XXX.pth`` (``{netD, netT, netSD, netSC, optimizer,
  global_step, epoch}``) and ``config.py``; the StyleGAN2 comes from ``config.generator_path`` (a
  stylegan2-pytorch ``.pt`` whose ``g_ema`` is used). ``config.py`` is parsed as literals
  (:func:`read_config_py`), the ``.pth``/``.pt`` files load with ``weights_only=True``.
* gan3d's safe form: a folder with ``config.json`` (``"method": "liftedgan"``) and ``weights.pt``, as
  :meth:`gan3d.Generator.save_pretrained` writes it (it includes the truncation mean ``w_mu``).

Network widths are read from the state_dict shapes, so reduced-width models load too; widths that do
not fit together are an error that names them.
"""

from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

import torch

import gan3d
from gan3d import pretrained
from gan3d.errors import CheckpointError, validated
from gan3d.unpickle import check_state_dict, load_state_dict

from .cards import card_for_generator_path
from .model import LiftedGAN, LiftedGANConfig

NETS = ("netD", "netT", "netSD", "netSC")
# LiftedGANConfig fields -> where an official checkpoint holds them (config.py entries, state_dict shapes)
OFFICIAL_NAMES = {
    "fov": "renderer_params['fov']", "rot_center_depth": "renderer_params['rot_center_depth']",
    "blur_size": "blur_params['size']", "blur_sigma": "blur_params['sigma']",
    "style_dim": "the StyleGAN2 style width (g_ema style.1.weight)", "n_mlp": "the StyleGAN2 mapping depth",
    "channels": "the StyleGAN2 channel table", "mlp_hidden": "netSD's width (model_light.mlp.0.weight)",
    "depth_z_dim": "netD's z width (mlp.0.weight)", "depth_nf": "netD's width (head.0.weight)",
    "trans_z_dim": "netT's z width (mlp.0.weight)", "trans_nf": "netT's width (network.21.weight)",
}


# ---------------------------------------------------------------------- config.py
def read_config_py(path: str | os.PathLike) -> dict:
    """The assignments of an official ``config.py`` as a dict, without executing the file.

    Allowed: a docstring, ``name = <literal>`` where literals are numbers, strings, None/True/False,
    lists, tuples, dicts and sets of literals, a leading ``-``, and names assigned *earlier in the file*
    (the official configs write ``'min_depth': min_depth``). Anything else (imports, calls, arithmetic,
    attribute access, ...) raises :class:`CheckpointError` naming the file and line.
    """
    path = Path(path)
    try:
        source = path.read_text()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        raise CheckpointError(f"{path} line {e.lineno}: not valid Python ({e.msg})") from None
    values: dict = {}

    def bad(node: ast.AST, what: str):
        line = source.splitlines()[node.lineno - 1].strip() if getattr(node, "lineno", None) else ""
        raise CheckpointError(f"{path} line {node.lineno}: {what} is not a literal and gan3d does not run code "
                              f"from config files: {line!r}")

    def lit(node: ast.AST):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [lit(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                bad(node, "a ** expansion")
            return {lit(k): lit(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = lit(node.operand)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        bad(node, f"the expression ({type(node).__name__})")

    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue  # docstring / bare string
        if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            v = lit(stmt.value)
            for t in stmt.targets:
                values[t.id] = v
            continue
        bad(stmt, f"the statement ({type(stmt).__name__})")
    return values


def config_from_official(cfg: dict, states: dict[str, dict], source: str = "config.py") -> LiftedGANConfig:
    """A :class:`LiftedGANConfig` from an official config dict and the five state_dicts (widths from shapes).

    A value out of range (``truncation = 1.5``, ``blur_params['sigma'] = 0``) is a :class:`CheckpointError`
    naming ``source`` (the config.py path), every bad entry as that file spells it, and the fix.
    """
    g = states["g_ema"]
    try:
        style_dim = g["style.1.weight"].shape[1]
        n_mlp = sum(1 for k in g if k.startswith("style.") and k.endswith(".weight"))
        channels = {4: g["conv1.conv.weight"].shape[1]}
        n_convs = sum(1 for k in g if k.startswith("convs.") and k.endswith(".conv.weight"))
        for i in range(n_convs // 2):
            channels[2 ** (i + 3)] = g[f"convs.{2 * i}.conv.weight"].shape[1]
        size = 2 ** (n_convs // 2 + 2)
        sd, d, t = states["netSD"], states["netD"], states["netT"]
        hidden = sd["model_light.mlp.0.weight"].shape[0]
        sd_in = sd["model_light.mlp.0.weight"].shape[1]
        sc_out = states["netSC"]["model.mlp.9.weight"].shape[0]
        d_in, d_z = d["mlp.0.weight"].shape[1], d["mlp.0.weight"].shape[0]
        d_nf, inject = d["head.0.weight"].shape[0], d["inject.weight"].shape[1]
        t_in, t_z, t_nf = t["mlp.0.weight"].shape[1], t["mlp.0.weight"].shape[0], t["network.21.weight"].shape[1]
    except KeyError as e:
        raise CheckpointError(f"LiftedGAN checkpoint lacks the key {e.args[0]!r}; it is not a LiftedGAN/StyleGAN2 "
                              f"state_dict of the official layout") from None
    problems = []
    if size != 256:
        problems.append(f"the StyleGAN2 is {size} px; LiftedGAN needs 256 px")
    for name, dim in (("netSD input", sd_in), ("netSC output", sc_out), ("netD input", d_in), ("netT input", t_in)):
        if dim != style_dim:
            problems.append(f"{name} width {dim} != the StyleGAN2 style width {style_dim}")
    if 256 in channels and inject != channels[256]:
        problems.append(f"netD injects {inject} feature channels but the StyleGAN2 has {channels[256]} at 256 px")
    if problems:
        raise CheckpointError("mismatched widths between the LiftedGAN networks and the StyleGAN2 "
                              "(is this the StyleGAN2 the model was trained on?): " + "; ".join(problems))
    rp = cfg.get("renderer_params", {}) or {}
    bp = cfg.get("blur_params", {}) or {}
    for key, group in (("renderer_params", rp), ("blur_params", bp)):
        if not isinstance(group, dict):
            raise CheckpointError(f"{source}: {key} must be a dict (as in the official configs), got "
                                  f"{type(group).__name__} {group!r}; correct it in that file")
    # raw values (no int()/float() here): the config model checks types and ranges and names each bad one
    data = dict(
        image_size=cfg.get("image_size", 256), style_dim=style_dim, n_mlp=n_mlp, channels=channels,
        mlp_hidden=hidden, depth_z_dim=d_z, depth_nf=d_nf, trans_z_dim=t_z, trans_nf=t_nf,
        min_depth=cfg.get("min_depth", 0.9), max_depth=cfg.get("max_depth", 1.1),
        border_depth=cfg.get("border_depth", 1.05), xyz_rotation_range=cfg.get("xyz_rotation_range", 60),
        xy_translation_range=cfg.get("xy_translation_range", 0.1),
        z_translation_range=cfg.get("z_translation_range", 0.01),
        fov=rp.get("fov", 10), rot_center_depth=rp.get("rot_center_depth", 1.0),
        blur_size=bp.get("size", 10), blur_sigma=bp.get("sigma", 4),
        clamp_border=cfg.get("clamp_border", True), generator_texture=cfg.get("generator_texture", True),
        truncation=cfg.get("truncation", 0.7))
    return validated(LiftedGANConfig, data, source=source, names=OFFICIAL_NAMES,
                     fix=f"Correct these entries of {source} (the official configs hold the authors' values, e.g. "
                         f"truncation = 0.7, blur_params = {{'size': 10, 'sigma': 4}}), or pass a corrected copy "
                         f"as config_path.")


# ---------------------------------------------------------------------- weights-only loading
def _torch_load(path: Path) -> object:
    """Weights-only loading; stylegan2-pytorch's ``args`` Namespace is allow-listed (inert data)."""
    return load_state_dict(path, safe_globals=[argparse.Namespace])


def read_stylegan2(path: Path) -> dict[str, torch.Tensor]:
    """``g_ema`` of a stylegan2-pytorch checkpoint (or a bare generator state_dict)."""
    obj = _torch_load(path)
    if isinstance(obj, dict) and "g_ema" in obj:
        return obj["g_ema"]
    if isinstance(obj, dict) and "style.1.weight" in obj:
        return obj
    keys = ", ".join(sorted(map(str, obj))[:8]) if isinstance(obj, dict) else type(obj).__name__
    raise CheckpointError(f"{path} is not a stylegan2-pytorch checkpoint (no 'g_ema'; it holds: {keys})")


def read_liftedgan_pth(path: Path) -> dict[str, dict]:
    """The four LiftedGAN state_dicts of a ``checkpoint_XXX.pth``."""
    obj = _torch_load(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a LiftedGAN checkpoint (a {type(obj).__name__})")
    if "g_ema" in obj and not any(n in obj for n in NETS):
        raise CheckpointError(f"{path} is a StyleGAN2 checkpoint, not a LiftedGAN one; give the checkpoint_XXX.pth "
                              f"(with config.py beside it)")
    missing = [n for n in NETS if n not in obj]
    if missing:
        raise CheckpointError(f"{path} lacks the LiftedGAN networks {', '.join(missing)} "
                              f"(it holds: {', '.join(sorted(map(str, obj))[:8])})")
    return {n: obj[n] for n in NETS}


def _find_generator(cfg: dict, ckpt: Path, given: Path | None) -> Path:
    if given is not None:
        if not Path(given).is_file():
            raise CheckpointError(f"StyleGAN2 checkpoint {str(given)!r} does not exist")
        return Path(given)
    rel = cfg.get("generator_path")
    if not rel:
        raise CheckpointError(f"{ckpt.parent / 'config.py'} names no generator_path; pass the StyleGAN2 .pt")
    name = Path(str(rel)).name
    folder = ckpt.parent
    candidates = [Path(str(rel)), folder / str(rel), folder / name]
    for base in (folder, *list(folder.parents)[:3]):
        candidates += [base / str(rel), base / "pretrained" / name]
    for c in candidates:
        if c.is_file():
            return c
    searched = "\n    ".join(dict.fromkeys(str(c) for c in candidates))
    raise CheckpointError(
        f"the LiftedGAN checkpoint {ckpt} needs its StyleGAN2 generator, which is not inside it: config.py says "
        f"generator_path = {rel!r}. Searched:\n    {searched}\nPut {name} next to the checkpoint (or in a "
        f"pretrained/ folder above it), or register it with `gan3d weights add {name} --model liftedgan/ffhq256`.")


def load_official(path: str | os.PathLike, device: str = "cpu", generator_path: str | os.PathLike | None = None,
                  w_mu: torch.Tensor | None = None, card: gan3d.ModelCard | None = None,
                  config_path: str | os.PathLike | None = None) -> LiftedGAN:
    """Build a :class:`LiftedGAN` from the authors' ``checkpoint_XXX.pth`` (or its folder).

    ``w_mu [1,D]`` is the truncation mean; without it, it is computed once from 50,000 samples of a
    fixed seed (the official code redraws it unseeded at every load).
    """
    path = Path(path)
    if path.is_dir():
        pths = sorted(path.glob("checkpoint_*.pth")) or sorted(path.glob("*.pth"))
        if not pths:
            raise CheckpointError(f"{path} holds no checkpoint_XXX.pth")
        path = pths[-1]
    cfg_file = Path(config_path) if config_path is not None else path.parent / "config.py"
    if not cfg_file.is_file():
        raise CheckpointError(f"{path} needs the config.py it was trained with in the same folder (the official "
                              f"tools require it too); {cfg_file} does not exist")
    cfg = read_config_py(cfg_file)
    nets = read_liftedgan_pth(path)
    g_path = _find_generator(cfg, path, Path(generator_path) if generator_path is not None else None)
    states = {"g_ema": read_stylegan2(g_path), **nets}
    config = config_from_official(cfg, states, str(cfg_file))
    if card is None:
        card = card_for_generator_path(str(cfg.get("generator_path", "")))
    if card.latent.dim != config.style_dim:
        card = card.model_copy(update={"latent": gan3d.LatentSpec(parts={"z": config.style_dim})})
    model = LiftedGAN(card, config)
    sd = {f"generator.{k}": v for k, v in states["g_ema"].items()}
    for n in NETS:
        sd.update({f"{n}.{k}": v for k, v in states[n].items()})
    sd["w_mu"] = torch.zeros(1, config.style_dim) if w_mu is None else torch.as_tensor(w_mu).reshape(1, -1)
    _load_strict(model, sd, str(path))
    model.to(device)
    if w_mu is None:
        model.compute_w_mu()
    return model


def _load_strict(model: LiftedGAN, sd: dict, source: str) -> None:
    check_state_dict(sd, {k: tuple(v.shape) for k, v in model.state_dict().items()},
                     f"{source} (for LiftedGAN's networks)")
    model.load_state_dict(sd, strict=True)


def load_safe(path: str | Path, device: str = "cpu") -> LiftedGAN:
    """gan3d's safe form (:mod:`gan3d.pretrained`, ``"method": "liftedgan"``)."""
    form = pretrained.read(path, "liftedgan")
    if form is None:
        raise CheckpointError(f"{str(path)!r} is not a LiftedGAN safe-form checkpoint (a folder with config.json "
                              f"whose 'method' is 'liftedgan', and weights.pt)")
    config = validated(LiftedGANConfig, form.config, source=str(form.config_path),
                       fix="The file was edited or written by another gan3d version: write it again with "
                           "Generator.save_pretrained (or `gan3d weights convert`).")
    model = LiftedGAN(form.card(), config)
    _load_strict(model, form.state_dict(), str(form.weights_path))
    return model.to(device)


def recognise(path: Path, device: str = "cpu") -> LiftedGAN | None:
    """The ``gan3d_load_checkpoint`` logic: a LiftedGAN model if ``path`` is one, else None."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if pretrained.read(path, "liftedgan") is not None:  # the safe form: folder, config.json or its weights.pt
        return load_safe(path, device)
    if (path.is_dir() or path.suffix == ".json") and pretrained.find(path) is not None:
        return None  # another method's safe form
    if path.is_dir():
        if (path / "config.py").is_file() and any(path.glob("checkpoint_*.pth")):
            return load_official(path, device)
        return None
    if path.suffix == ".pth" and (folder / "config.py").is_file():
        return load_official(path, device)
    return None
