"""The official initialisation of a CNeRF generator trained from scratch.

gan3d's modules are built for loading checkpoints and use one simple uniform init; training from
scratch needs the official distributions (SIREN is sensitive to them): mapping and the
gamma/beta/feature projections Kaiming-normal (a = 0.2, fan-in; the projections scaled by 0.25),
the mask/rgb/sdf heads U(+-sqrt(6/in)/25), every bias U(+-sqrt(1/in)); FiLM layers keep theirs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..siren import AffineHead, LocalGenerator

_KAIMING_GAIN = math.sqrt(2.0 / (1 + 0.2 ** 2))


def _kaiming(weight: torch.Tensor, scale: float = 1.0) -> None:
    weight.normal_(0.0, scale * _KAIMING_GAIN / math.sqrt(weight.shape[1]))


def _bias(bias: torch.Tensor, fan_in: int) -> None:
    bound = math.sqrt(1.0 / fan_in)
    bias.uniform_(-bound, bound)


def _freq(head: AffineHead) -> None:
    bound = math.sqrt(6.0 / head.weight.shape[1]) / 25.0
    head.weight.uniform_(-bound, bound)
    _bias(head.bias, head.weight.shape[1])


def _projection(head: AffineHead) -> None:
    _kaiming(head.weight, 0.25)
    _bias(head.bias, head.weight.shape[1])


@torch.no_grad()
def init_local_generator(gen: LocalGenerator) -> None:
    """Official init of one local generator's projections and heads (FiLM weights keep their init)."""
    for layer in list(gen.shape_linears) + list(gen.texture_linears):
        _projection(layer.gamma)
        _projection(layer.beta)
    _freq(gen.mask_linears)
    _freq(gen.rgb_linear)
    _freq(gen.sdf_linear)
    _projection(gen.feature_linear)


@torch.no_grad()
def init_generator(G: nn.Module) -> None:
    """Official init of ``G.style`` and every local generator of ``G.renderer`` (``sigmoid_beta`` = 0.1)."""
    for layer in G.style:
        _kaiming(layer.weight)
        _bias(layer.bias, layer.weight.shape[1])
    for gen in list(G.renderer.network) + [G.renderer.init_network]:
        init_local_generator(gen)
    G.renderer.sigmoid_beta.fill_(0.1)


@torch.no_grad()
def zero_residual_sdf_biases(G: nn.Module) -> None:
    """Zero the SDF-head biases of ``G.renderer.network`` (the K local generators, not the init network).

    Not official: each bias is U(+-sqrt(1/width)), so at width 16 their sum offsets the fused SDF by up to
    ~+-0.9 while the pre-fitted sphere has radius 0.06; the volume then starts solid or empty.
    """
    for gen in G.renderer.network:
        gen.sdf_linear.bias.zero_()
