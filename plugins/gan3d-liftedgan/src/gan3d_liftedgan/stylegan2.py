"""The slim 256-px StyleGAN2 generator LiftedGAN distils (rosinality layout).

The generator itself lives in the core (:class:`gan3d.nn.stylegan2.StyleGAN2Generator`), shared with the
StyleGAN2 teacher trainer; state-dict keys and numerics follow rosinality's stylegan2-pytorch as vendored
by LiftedGAN, so the authors' ``g_ema`` loads strictly. LiftedGAN always feeds one w to every layer and
renders with the stored noise buffers ``noises.noise_*`` (``synthesis(w)`` with its defaults).

The channel table defaults to the authors' slim one ({4:512, 8:512, 16:256, 32:128, 64:64, 128:32, 256:16}),
not rosinality's; it is a constructor argument so reduced-width fixtures load too.
"""

from __future__ import annotations

from gan3d.nn.stylegan2 import SLIM_CHANNELS, ConstantInput, StyleGAN2Generator, fused_leaky_relu, upfirdn2d

# fused_leaky_relu and upfirdn2d are re-exported: the parity tests check them under this module's name
__all__ = ["SLIM_CHANNELS", "ConstantInput", "StyleGAN2Generator", "fused_leaky_relu", "upfirdn2d"]
