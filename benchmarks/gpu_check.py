"""One-shot GPU check: inference rates, the fp16 super-resolution, a projected FID time, one training step
per method and the peak memory of each, printed as one table with its configuration.

    bash benchmarks/gpu_check.sh                 # on a CUDA machine: the full check (< 5 min on one data-centre GPU)
    bash benchmarks/gpu_check.sh --cpu           # the tiny CPU form (what CI and machines without a GPU run)

On CUDA: EG3D ffhq512-128 (full architecture, random weights, deterministic sampling) at batch 1 and 16 in
fp32 and with the super-resolution in fp16, the fp16 image's PSNR against fp32 (goal >= 40 dB), the time
of a 50k-sample FID projected from the batch-16 rate (rendering only; the Inception features come on
top), CNeRF ffhq512 and LiftedGAN ffhq256 (full architectures, random weights) images/s, and one
training step of each method's ``synth64`` preset through ``gan3d.registry.trainer_entry``.

fp16 super-resolution: gan3d's EG3D generator always runs fp32 (``sr_num_fp16_res`` only switches on the
official conv clamp of 256), so there is no fp16 path of its own; this check runs the super-resolution
module under ``torch.autocast("cuda", float16)``. The official code instead keeps weights in fp32 and casts
activations and modulated weights of its SR blocks to fp16, so the two are close, not bit-equal.

Without CUDA every CUDA row is printed as skipped with the reason, and each measurement runs in a tiny
form on the CPU (random weights, small widths and images) so the script itself stays tested. Peak memory
is ``torch.cuda.max_memory_allocated`` per row on CUDA; on the CPU it is the process's peak RSS so far
(``resource.getrusage``), a high-water mark that only grows from row to row.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark scripts

import gan3d  # noqa: E402
from gan3d import registry  # noqa: E402
from gan3d.train import Batch, DataInfo, Draws, Progress, ema_update, make_optimizer, run_phase  # noqa: E402

SKIPPED = "skipped"
MODELS = {
    "cuda": "EG3D ffhq512-128 full architecture (neural rendering 128, 48+48 samples, 8XDC SR to 512); CNeRF "
            "ffhq512 full (64 px rendering, 64 samples, decoder to 512); LiftedGAN ffhq256 full; trainers: the "
            "synth64 presets (LiftedGAN's loss backbones random, its teacher a random 64 px StyleGAN2)",
    "cpu-tiny": "EG3D 64 px (neural rendering 16, 4+4 samples, 16 px tri-planes); CNeRF 32 px (16 px rendering, "
                "8 samples, width 8); LiftedGAN on a random 16 px StyleGAN2 teacher; trainers at those sizes",
}


class CheckConfig(BaseModel):
    """What one run measures (printed above the table)."""

    model_config = ConfigDict(extra="forbid")

    form: str = Field(description="'cuda' (full sizes) or 'cpu-tiny' (random tiny networks)")
    device: str
    eg3d_batches: list[int]
    repeats: int = Field(ge=1)
    fid_samples: int = Field(ge=1)
    threads: int


class Row(BaseModel):
    """One line of the table: a figure, or a skipped measurement with its reason."""

    model_config = ConfigDict(extra="forbid")

    what: str
    device: str
    batch: int | None = None
    figure: str = ""
    peak_mib: float | None = None
    note: str = ""


# ---------------------------------------------------------------------------------------------- helpers
def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_mib(device: str) -> float:
    """Peak CUDA memory since the last :func:`reset_peak`, or the process's peak RSS on the CPU."""
    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def best_time(fn: Callable[[], object], device: str, repeats: int) -> float:
    """Best wall seconds of ``repeats`` calls after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return min(times)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [-1,1] (peak-to-peak 2, i.e. the same as on [0,1])."""
    mse = float((a.float() - b.float()).pow(2).mean())
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)


@contextlib.contextmanager
def sr_in_fp16(G: torch.nn.Module) -> Iterator[None]:
    """Run ``G.superresolution`` under CUDA float16 autocast (see the module docstring), output back in fp32."""
    sr = G.superresolution
    inner = sr.forward

    def forward(*args, **kwargs):
        with torch.autocast("cuda", dtype=torch.float16):
            return inner(*args, **kwargs).float()

    sr.forward = forward  # an instance attribute: nn.Module.__call__ finds it before the class's forward
    try:
        yield
    finally:
        del sr.forward


# ---------------------------------------------------------------------------------------------- models
def eg3d_options(tiny: bool) -> dict:
    if tiny:
        return dict(resolution=64, cbase=128, cmax=16, triplane_resolution=16, sr_channels=(8, 8), map_depth=2,
                    neural_rendering_resolution_initial=16,
                    depth_resolution=4, depth_resolution_importance=4, d_mapping_layers=2)
    return {k: v for k, v in registry.trainer_entry("eg3d").presets["synth64"].items() if k not in ("batch", "kimg")}


def cnerf_options(tiny: bool) -> dict:
    if tiny:
        return dict(style_dim=16, width=8, resolution=16, num_samples=4, d_channel_divisor=16, export_samples=4,
                    sphere_init=False)
    preset = registry.trainer_entry("cnerf").presets["synth64"]
    return {**{k: v for k, v in preset.items() if k not in ("batch", "kimg")}, "sphere_init": False}


def liftedgan_options(tiny: bool, teacher: Path) -> dict:
    # random loss backbones (VGG16, the face net): the step costs the same, and nothing is downloaded
    common = {"teacher": str(teacher), "backbones": "random"}
    if tiny:
        return {**common, "mlp_hidden": 16, "depth_z_dim": 16, "depth_nf": 4, "trans_nf": 4, "trans_z_dim": 4,
                "blur_size": 2, "blur_sigma": 1.0, "rank_downsample": 2, "w_stats_samples": 64, "n_scale": 2,
                "identity_net": "facenet"}
    preset = registry.trainer_entry("liftedgan").presets["synth64"]
    return {**{k: v for k, v in preset.items() if k not in ("batch", "kimg")}, **common, "w_stats_samples": 2048}


def write_teacher(out: Path, tiny: bool) -> Path:
    """A random StyleGAN2 teacher for LiftedGAN (16 px tiny, else the ``stylegan2`` synth64 widths)."""
    from gan3d.stylegan2 import SLIM_CHANNELS, StyleGAN2Config, StyleGAN2Model, make_card

    if tiny:
        cfg = StyleGAN2Config(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 8, 16: 4})
    else:
        cfg = StyleGAN2Config(size=64, style_dim=128, n_mlp=4,
                              channels={k: max(v // 8, 8) for k, v in SLIM_CHANNELS.items()})
    torch.manual_seed(0)
    T = StyleGAN2Model(make_card("gpu-check", "random weights", cfg), cfg)
    T.compute_latent_avg(64)
    T.save_pretrained(out / "generator")
    return out / "generator"


def eg3d_full(device: str):
    from eg3d_speed import FFHQ512_128
    from gan3d_eg3d.cards import CARDS_BY_NAME
    from gan3d_eg3d.generator import EG3DGenerator

    torch.manual_seed(0)
    return EG3DGenerator(CARDS_BY_NAME["eg3d/ffhq512-128"], FFHQ512_128).to(device).eval().requires_grad_(False)


def cnerf_model(device: str, tiny: bool):
    from gan3d_cnerf.cards import FFHQ512, card_for_config
    from gan3d_cnerf.config import CNeRFConfig
    from gan3d_cnerf.generator import CNeRFGenerator

    torch.manual_seed(0)
    if tiny:
        cfg = CNeRFConfig(size=32, style_dim=16, width=8, render_resolution=16, num_samples=8, channel_multiplier=1,
                          feature_channels=16, decoder_channel_divisor=16)
        G = CNeRFGenerator(card_for_config(cfg, "cnerf/gpu-check-tiny"), cfg)
    else:
        G = CNeRFGenerator(FFHQ512)
    G = G.to(device).eval().requires_grad_(False)
    G.compute_mean_latents(n=100 if tiny else 1000)
    return G


def liftedgan_full(device: str):
    from gan3d_liftedgan.cards import FFHQ
    from gan3d_liftedgan.model import LiftedGAN

    torch.manual_seed(0)
    return LiftedGAN(FFHQ).to(device).eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------- measurements
def eg3d_inference(G, device: str, batches: list[int], repeats: int, fid_samples: int, fp16: bool,
                   label: str) -> list[Row]:
    """Images/s per batch in fp32 (and with the fp16 SR when ``fp16``), PSNR fp16 vs fp32, projected FID time."""
    G.set_deterministic(True)  # identical rays in both precisions: the PSNR measures the precision only
    rows, rate_at = [], {}
    cam = G.default_camera(0.2)
    for batch in batches:
        z = torch.randn(batch, G.card.latent.dim, generator=torch.Generator().manual_seed(batch)).to(device)
        with torch.no_grad():
            ws = G.mapping(z, cam, 0.7)
            precisions = ["fp32", "fp16-sr"] if fp16 else ["fp32"]
            images = {}
            for prec in precisions:
                reset_peak(device)
                with sr_in_fp16(G) if prec == "fp16-sr" else contextlib.nullcontext():
                    # the tri-plane cache would skip the backbone after the first call: a full forward each time
                    sec = best_time(lambda: (G.clear_cache(), G.synthesize(ws, cam)), device, repeats)
                    images[prec] = G.synthesize(ws, cam).image
                rate_at[(prec, batch)] = batch / sec
                note = ""
                if prec == "fp16-sr":
                    db = psnr(images["fp16-sr"], images["fp32"])
                    note = f"PSNR vs fp32 {db:.1f} dB ({'ok' if db >= 40 else 'BELOW the 40 dB goal'})"
                rows.append(Row(what=f"{label} inference {prec}", device=device, batch=batch,
                                figure=f"{batch / sec:.2f} images/s", peak_mib=peak_mib(device), note=note))
    if not fp16:
        rows.append(Row(what=f"{label} inference fp16-sr", device=device, note=f"{SKIPPED}: CUDA only"))
    big = max(batches)
    for prec in ("fp32", "fp16-sr"):
        if (prec, big) in rate_at:
            secs = fid_samples / rate_at[(prec, big)]
            rows.append(Row(what=f"{label} projected FID-{fid_samples // 1000}k render time {prec}", device=device,
                            batch=big, figure=f"{secs / 60:.1f} min", note="rendering only, from the rate above"))
    return rows


def generator_rate(what: str, fn: Callable[[], object], device: str, batch: int, repeats: int) -> Row:
    reset_peak(device)
    with torch.no_grad():
        sec = best_time(fn, device, repeats)
    return Row(what=what, device=device, batch=batch, figure=f"{batch / sec:.2f} images/s", peak_mib=peak_mib(device))


def cnerf_inference(G, device: str, batch: int, repeats: int, label: str) -> Row:
    z = torch.randn(batch, G.card.latent.dim, generator=torch.Generator().manual_seed(0)).to(device)
    cam = G.default_camera()
    return generator_rate(f"{label} inference", lambda: G(z, cam, truncation_psi=0.7), device, batch, repeats)


def liftedgan_inference(G, device: str, batch: int, repeats: int, label: str) -> Row:
    z = torch.randn(batch, G.card.latent.dim, generator=torch.Generator().manual_seed(0)).to(device)
    return generator_rate(f"{label} inference", lambda: G.synthesize(G.mapping(z, None, 0.7), own_pose=True),
                          device, batch, repeats)


def build_trainer(method: str, options: dict, info: DataInfo, device: str):
    entry = registry.trainer_entry(method)
    opts = entry.options(**options)
    problems = entry.check_data(opts, info) if entry.check_data else []
    if problems:
        raise gan3d.errors.InputError(f"{method}: " + "; ".join(problems))
    torch.manual_seed(0)
    return entry.build(opts, info, device)


def train_step(method: str, trainer, real: Batch, device: str, label: str) -> Row:
    """Seconds of one iteration after one warm-up iteration: every phase, the lazy-regularisation ones
    included (an upper bound of an average step), then the EMA update."""
    G = trainer.networks["G"]
    ema = copy.deepcopy(G)
    opts = {k: make_optimizer(trainer.networks[k], s) for k, s in trainer.optimizers().items()}
    draws = Draws(0)
    batch = real.image.shape[0]
    times = []
    reset_peak(device)
    for i in range(2):
        progress = Progress(cur_nimg=i * batch, batch_idx=i, batch_size=batch)
        sync(device)
        t = time.perf_counter()
        inputs = trainer.prepare(real, draws, progress)
        for phase in trainer.phases():
            run_phase(trainer, phase, opts[phase.network], real, inputs, draws, progress)
        ema_update(ema, G, trainer.ema_beta(progress))
        sync(device)
        times.append(time.perf_counter() - t)
    return Row(what=f"{method} training step ({label}, all phases + EMA)", device=device, batch=batch,
               figure=f"{times[-1]:.3f} s/step", peak_mib=peak_mib(device))


def training_rows(device: str, tiny: bool, workdir: Path) -> tuple[list[Row], object, object]:
    """One step per method; returns the rows and the tiny EG3D / LiftedGAN models for the CPU inference rows."""
    from eg3d_train_speed import labels

    label = "tiny" if tiny else "synth64"
    rows = []
    eo = eg3d_options(tiny)
    res, b = eo["resolution"], (2 if tiny else registry.trainer_entry("eg3d").presets["synth64"]["batch"])
    lab = labels()
    eg3d = build_trainer("eg3d", eo, DataInfo(resolution=res, num_images=len(lab), has_labels=True, labels=lab),
                         device)
    real = Batch(image=torch.rand(b, 3, res, res) * 2 - 1, label=lab[:b].clone()).to(device)
    rows.append(train_step("eg3d", eg3d, real, device, label))

    co = cnerf_options(tiny)
    res, b = co["resolution"], (2 if tiny else registry.trainer_entry("cnerf").presets["synth64"]["batch"])
    cnerf = build_trainer("cnerf", co, DataInfo(resolution=res, num_images=8, has_labels=False, num_classes=9),
                          device)
    real = Batch(torch.rand(b, 3, res, res) * 2 - 1, None, torch.randint(0, 9, (b, res, res))).to(device)
    rows.append(train_step("cnerf", cnerf, real, device, label))

    teacher = write_teacher(workdir, tiny)
    res, b = (16, 2) if tiny else (64, registry.trainer_entry("liftedgan").presets["synth64"]["batch"])
    lifted = build_trainer("liftedgan", liftedgan_options(tiny, teacher),
                           DataInfo(resolution=res, num_images=8, has_labels=False), device)
    real = Batch(torch.zeros(b, 3, res, res)).to(device)
    rows.append(train_step("liftedgan", lifted, real, device, label))
    return rows, eg3d.networks["G"], lifted.model


# ---------------------------------------------------------------------------------------------- main
def run(config: CheckConfig) -> list[Row]:
    device, tiny = config.device, config.form == "cpu-tiny"
    rows: list[Row] = []
    if tiny:
        reason = f"{SKIPPED}: CUDA not available" if not torch.cuda.is_available() else f"{SKIPPED}: --cpu"
        for what in ("eg3d ffhq512-128 inference fp32", "eg3d ffhq512-128 inference fp16-sr",
                     f"eg3d ffhq512-128 projected FID-{config.fid_samples // 1000}k render time",
                     "cnerf ffhq512 inference",
                     "liftedgan ffhq256 inference", "training steps (synth64 presets)"):
            rows.append(Row(what=what, device="cuda", note=reason))
    with tempfile.TemporaryDirectory(prefix="gan3d-gpu-check-") as tmp:
        train, eg3d_G, lifted_G = training_rows(device, tiny, Path(tmp))
        if tiny:
            rows += eg3d_inference(copy.deepcopy(eg3d_G).eval().requires_grad_(False), device, config.eg3d_batches,
                                   config.repeats, config.fid_samples, fp16=False, label="eg3d tiny")
            rows.append(cnerf_inference(cnerf_model(device, True), device, 1, config.repeats, "cnerf tiny"))
            rows.append(liftedgan_inference(lifted_G.eval(), device, 1, config.repeats, "liftedgan tiny"))
        else:
            del eg3d_G, lifted_G
            rows += eg3d_inference(eg3d_full(device), device, config.eg3d_batches, config.repeats,
                                   config.fid_samples, fp16=True, label="eg3d ffhq512-128")
            rows.append(cnerf_inference(cnerf_model(device, False), device, 1, config.repeats, "cnerf ffhq512"))
            rows.append(liftedgan_inference(liftedgan_full(device), device, 8, config.repeats, "liftedgan ffhq256"))
        rows += train
    return rows


def format_table(rows: list[Row]) -> str:
    head = ("what", "device", "batch", "figure", "peak MiB", "note")
    cells = [head] + [(r.what, r.device, "" if r.batch is None else str(r.batch), r.figure,
                       "" if r.peak_mib is None else f"{r.peak_mib:.1f}", r.note) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip() for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="the tiny CPU form even where CUDA is available")
    p.add_argument("--batches", type=int, nargs="+", default=None,
                   help="EG3D batch sizes (default 1 16 on CUDA, 1 2 on the CPU)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per figure, best kept (default 3 / 1)")
    p.add_argument("--fid-samples", type=int, default=50_000)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available() and not args.cpu
    if not cuda:
        print("CUDA is not available (or --cpu was given): the CUDA measurements are skipped; running the tiny "
              "CPU form with random weights instead.", flush=True)
    config = CheckConfig(form="cuda" if cuda else "cpu-tiny", device="cuda" if cuda else "cpu",
                         eg3d_batches=args.batches or ([1, 16] if cuda else [1, 2]),
                         repeats=args.repeats or (3 if cuda else 1), fid_samples=args.fid_samples,
                         threads=torch.get_num_threads())
    print(f"gan3d {gan3d.__version__}, torch {torch.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}")
    print(f"GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    print("config: " + ", ".join(f"{k}={v}" for k, v in config.model_dump().items()))
    print(f"models: {MODELS[config.form]}")
    print("weights: random (speed does not depend on the values); EG3D deterministic sampling, truncation 0.7")
    t0 = time.perf_counter()
    rows = run(config)
    print(format_table(rows))
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
