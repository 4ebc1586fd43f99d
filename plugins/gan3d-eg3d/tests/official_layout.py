"""Write pickles in the layout of NVIDIA's EG3D snapshots, without NVIDIA's code (test helper).

The official ``training_loop.py`` pickles ``dict(training_set_kwargs, G, D, G_ema, augment_pipe)``.
Persistent classes reduce to ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = {type: 'class', version: 6, module_src, class_name, state}``; ``OSGDecoder``, the renderer
classes and torch's ``Sequential``/``Softplus`` are pickled by reference with NEWOBJ + BUILD(__dict__);
``mapping_kwargs``/``sr_kwargs`` are ``dnnlib.util.EasyDict``; ``weight_gain`` is a numpy float64.

To emit those global names, stand-in modules are put into ``sys.modules`` only while pickling.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import torch

from gan3d_eg3d import stylegan2, superres, triplane
from gan3d_eg3d.generator import EG3DGenerator

PERSISTENT_NAMES = {
    stylegan2.Backbone: "Generator",
    stylegan2.SynthesisNetwork: "SynthesisNetwork",
    stylegan2.SynthesisLayer: "SynthesisLayer",
    stylegan2.ToRGBLayer: "ToRGBLayer",
    stylegan2.FullyConnectedLayer: "FullyConnectedLayer",
    stylegan2.MappingNetwork: "MappingNetwork",
    EG3DGenerator: "TriPlaneGenerator",
    **{cls: name for name, cls in superres.SR_MODULES.items()},
}
MODULE_SRC = {
    "TriPlaneGenerator": "training/triplane.py",
    "SynthesisBlockNoUp": "training/superresolution.py",
    **{name: "training/superresolution.py" for name in superres.SR_MODULES},
}


class EasyDict(dict):
    pass


def _never_called(meta):  # stands in for NVIDIA's function, which would exec meta['module_src']
    raise AssertionError("the loader must not call the pickled persistence function")


@contextlib.contextmanager
def fake_modules():
    """Temporarily register stand-ins for the globals an official snapshot names."""
    made: dict[str, types.ModuleType] = {}

    def mod(name: str) -> types.ModuleType:
        m = types.ModuleType(name)
        made[name] = m
        return m

    mod("torch_utils")
    p = mod("torch_utils.persistence")
    _never_called.__module__, _never_called.__qualname__, _never_called.__name__ = (
        "torch_utils.persistence", "_reconstruct_persistent_obj", "_reconstruct_persistent_obj")
    p._reconstruct_persistent_obj = _never_called
    mod("dnnlib")
    u = mod("dnnlib.util")
    EasyDict.__module__ = "dnnlib.util"
    u.EasyDict = EasyDict
    mod("training")
    classes = {}
    for modname, names in {"training.triplane": ["OSGDecoder"],
                           "training.volumetric_rendering": [],
                           "training.volumetric_rendering.renderer": ["ImportanceRenderer"],
                           "training.volumetric_rendering.ray_sampler": ["RaySampler"],
                           "training.volumetric_rendering.ray_marcher": ["MipRayMarcher2"]}.items():
        m = mod(modname)
        for n in names:
            cls = type(n, (), {"__module__": modname})
            setattr(m, n, cls)
            classes[n] = cls
    saved = {k: sys.modules.get(k) for k in made}
    sys.modules.update(made)
    try:
        yield classes
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        EasyDict.__module__ = __name__


class _Persistent:
    def __init__(self, meta: dict):
        self.meta = meta

    def __reduce__(self):
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


def _instance(cls: type, state: dict):
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _module_state(module: torch.nn.Module, children: OrderedDict, attrs: dict) -> dict:
    st = {
        "training": False,
        "_parameters": OrderedDict((k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False))
                                   for k, v in module._parameters.items()),
        "_buffers": OrderedDict((k, None if v is None else v.detach().clone()) for k, v in module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(), "_forward_hooks": OrderedDict(), "_forward_pre_hooks": OrderedDict(),
        "_state_dict_hooks": OrderedDict(), "_load_state_dict_pre_hooks": OrderedDict(),
        "_modules": children,
    }
    st.update(attrs)
    return st


def convert(module: torch.nn.Module, classes: dict, module_src: str) -> object:
    """A gan3d EG3D module tree -> objects that pickle like the official ones."""
    children = OrderedDict((k, convert(v, classes, module_src)) for k, v in module._modules.items())
    attrs: dict = {"_init_args": (), "_init_kwargs": {}}
    if isinstance(module, stylegan2.FullyConnectedLayer):
        attrs.update(weight_gain=np.float64(module.weight_gain), bias_gain=module.bias_gain,
                     activation=module.activation, in_features=module.in_features, out_features=module.out_features)
    if isinstance(module, superres._SuperResolution):
        attrs.update(sr_antialias=module.sr_antialias, input_resolution=module.input_resolution)
    if isinstance(module, triplane.OSGDecoder):
        return _instance(classes["OSGDecoder"], _module_state(module, children, {"hidden_dim": 64}))
    if isinstance(module, (torch.nn.Sequential, torch.nn.Softplus)):
        extra = {"beta": 1.0, "threshold": 20.0} if isinstance(module, torch.nn.Softplus) else {}
        return _instance(type(module), _module_state(module, children, extra))
    if isinstance(module, stylegan2.SynthesisBlock):
        name = "SynthesisBlockNoUp" if module.up == 1 else "SynthesisBlock"
    else:
        name = PERSISTENT_NAMES[type(module)]
    src = module_src if name == "TriPlaneGenerator" else f"# source of {MODULE_SRC.get(name, 'training/networks_stylegan2.py')}\n"
    return _Persistent({"type": "class", "version": 6, "module_src": src, "class_name": name,
                        "state": _module_state(module, children, attrs)})


def write_snapshot(G: EG3DGenerator, path, module_src: str = "# class TriPlaneGenerator ...\n",
                   g_ema_extra: dict | None = None, top_extra: dict | None = None, protocol: int = 4) -> None:
    """Pickle ``G`` as an official EG3D snapshot would be (G, G_ema, a stub D, training_set_kwargs)."""
    with fake_modules() as classes:
        def triplane_generator():
            g = convert(G, classes, module_src)
            st = g.meta["state"]
            # the renderer and ray sampler come first in the official _modules (no parameters)
            renderer = _instance(classes["ImportanceRenderer"], _module_state(
                torch.nn.Module(), OrderedDict(ray_marcher=_instance(classes["MipRayMarcher2"], _module_state(
                    torch.nn.Module(), OrderedDict(), {}))), {}))
            sampler = _instance(classes["RaySampler"], _module_state(torch.nn.Module(), OrderedDict(), {}))
            st["_modules"] = OrderedDict([("renderer", renderer), ("ray_sampler", sampler), *st["_modules"].items()])
            kw = dict(G.init_kwargs)
            kw["mapping_kwargs"] = EasyDict(kw.get("mapping_kwargs", {}))
            kw["sr_kwargs"] = EasyDict(kw.get("sr_kwargs", {}))
            st.update(_init_args=(), _init_kwargs=kw, z_dim=G.z_dim, c_dim=G.c_dim, w_dim=G.w_dim,
                      img_resolution=G.img_resolution, img_channels=G.img_channels,
                      rendering_kwargs=dict(G.rendering_kwargs),
                      neural_rendering_resolution=G.neural_rendering_resolution, _last_planes=None)
            st.update(g_ema_extra or {})
            return g

        disc = _Persistent({"type": "class", "version": 6, "module_src": "# dual discriminator\n",
                            "class_name": "DualDiscriminator",
                            "state": _module_state(torch.nn.Linear(2, 2), OrderedDict(), {})})
        snap = {"training_set_kwargs": EasyDict(path="~/datasets/x.zip", use_labels=True),
                "G": triplane_generator(), "D": disc, "G_ema": triplane_generator(), "augment_pipe": None}
        snap.update(top_extra or {})
        with open(path, "wb") as f:
            pickle.dump(snap, f, protocol=protocol)
