"""The two trainers as :class:`gan3d.train.TrainerEntry` items (registered by the plugin's hook).

Two methods rather than one with a ``stage`` option: the stages train different networks with
different options (stage 2 needs a stage-1 snapshot, stage 1 has eikonal and sphere options), and
separate option models let a config's mistakes be named precisely.
"""

from __future__ import annotations

from gan3d.errors import Gan3dError
from gan3d.train import DataInfo, TrainerEntry

from .data import mask_problems
from .options import STAGE1_PRESETS, STAGE2_PRESETS, Stage1Options, Stage2Options


def check_stage1(options: Stage1Options, data: DataInfo) -> list[str]:
    from .discriminators import COMPONENT_CHANNELS, VOLUME_CHANNELS

    problems = mask_problems(data, options.num_classes)
    sizes = sorted(r for r in set(VOLUME_CHANNELS) & set(COMPONENT_CHANNELS) if r & (r - 1) == 0)
    if options.resolution not in sizes:
        problems.append(f"options.resolution {options.resolution} has no discriminator channel table; use one of "
                        f"{sizes} (the official stage 1 renders 64x64)")
    return problems


def check_stage2(options: Stage2Options, data: DataInfo) -> list[str]:
    from .stage2 import load_stage1

    try:
        G = load_stage1(options.stage1)
    except Gan3dError as e:
        return [str(e)]
    problems = mask_problems(data, G.config.num_classes)
    res = G.config.render_resolution
    if options.size <= res or options.size & (options.size - 1):
        problems.append(f"options.size must be a power of two above the stage-1 render size {res}; got {options.size}")
    return problems


def build_stage1(options, data, device="cpu"):
    from .stage1 import Stage1Trainer

    return Stage1Trainer(options, data, device)


def build_stage2(options, data, device="cpu"):
    from .stage2 import Stage2Trainer

    return Stage2Trainer(options, data, device)


ENTRIES = [
    TrainerEntry(method="cnerf", options=Stage1Options, build=build_stage1, presets=STAGE1_PRESETS,
                 check_data=check_stage1,
                 description="CNeRF stage 1: nine local generators + volume rendering against a global (image, mask) "
                             "discriminator with a pose head and a semantic component discriminator"),
    TrainerEntry(method="cnerf-full", options=Stage2Options, build=build_stage2, presets=STAGE2_PRESETS,
                 check_data=check_stage2,
                 description="CNeRF stage 2: StyleGAN2 decoder + feature transfer on a frozen stage-1 renderer"),
]
