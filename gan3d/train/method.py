"""What a method supplies to the core training loop (nerfstudio's split: the trainer owns the loop,
checkpoints and logging; the method supplies networks, phases and losses).

A plugin registers a :class:`TrainerEntry` through the ``gan3d_register_trainers`` hook. The core
builds the method's :class:`Trainer` from the validated options, makes one Adam per network from
:meth:`Trainer.optimizers` (applying the lazy-regularisation ratio), and then for every iteration runs
the phases of :meth:`Trainer.phases` in order through :func:`gan3d.train.step.run_phase`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from pydantic import BaseModel
from torch import nn

from .draws import Draws


@dataclass(frozen=True)
class Phase:
    """One loss phase: ``network`` is the key (in :attr:`Trainer.networks`) whose optimizer steps.

    The phase runs on iterations where ``batch_idx % interval == 0`` and its loss is multiplied by
    ``interval`` (the gain of lazy regularisation), as StyleGAN2/EG3D's training loop does.
    """

    name: str
    network: str
    interval: int = 1


@dataclass(frozen=True)
class OptimizerSpec:
    """Adam settings before the lazy-regularisation ratio.

    With ``reg_interval = k`` the core uses ``mb = k / (k + 1)``: ``lr * mb`` and ``betas ** mb``
    (StyleGAN2's rule, because the main phase's optimizer also takes the regulariser's steps).
    """

    lr: float
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    reg_interval: int | None = None
    weight_decay: float = 0.0  # torch Adam's coupled L2 (LiftedGAN's 5e-4), not AdamW's decoupled decay


@dataclass
class Batch:
    """A batch of real data, on the training device.

    image: ``[B,3,H,W]`` float32 in ``[-1, 1]``.
    label: ``[B,25]`` EG3D camera labels (16 of cam2world, 9 of normalised intrinsics), or None.
    mask:  ``[B,H,W]`` int64 class map in the method's class order, or None.
    """

    image: torch.Tensor
    label: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def to(self, device) -> "Batch":
        return Batch(*(None if t is None else t.to(device) for t in (self.image, self.label, self.mask)))


@dataclass
class Progress:
    """Where training stands: ``cur_nimg`` real images shown so far (all processes), ``batch_idx``
    iterations done, ``batch_size`` the global batch."""

    cur_nimg: int
    batch_idx: int
    batch_size: int


@dataclass
class DataInfo:
    """What a trainer may know of the data set before training (to size and check its networks)."""

    resolution: int
    num_images: int
    has_labels: bool
    num_classes: int | None = None           # semantic classes of the masks, None without masks
    labels: torch.Tensor | None = None       # [N,25] all camera labels (EG3D draws generator cameras from them)
    name: str = ""                           # the data set's name (ImageDataset.name), for trained models' cards


class Trainer(ABC):
    """A method's training: networks, optimizer settings, phases, per-phase losses.

    ``networks`` maps names to modules (e.g. ``{"G": ..., "D": ...}``). ``ema`` names the network the
    core keeps an exponential moving average of (``None`` for none); :meth:`ema_beta` gives the decay.
    The EMA copy is what snapshots save, what grids and metrics render: :meth:`export` turns it into a
    :class:`gan3d.Generator` (``save_pretrained`` makes the snapshot loadable by ``gan3d.load``).
    """

    method: str = ""
    ema: str | None = "G"
    run_name: str = ""  # the run's name (its folder's), set by the loop before export: trained models' cards
    # (D loss, G loss) log keys, one pair per discriminator, that the health monitor watches for a D winning
    # outright; empty: the first logged Loss/D... and Loss/G... keys
    health_pairs: tuple[tuple[str, str], ...] = ()

    def __init__(self, options: BaseModel, data: DataInfo, device: torch.device | str = "cpu"):
        self.options = options
        self.data = data
        self.device = torch.device(device)
        self.networks: dict[str, nn.Module] = {}

    @abstractmethod
    def optimizers(self) -> dict[str, OptimizerSpec]:
        """One :class:`OptimizerSpec` per trained network name."""

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The phases of one iteration, in execution order."""

    def prepare(self, real: Batch, draws: Draws, progress: Progress) -> dict:
        """Per-iteration inputs shared by the phases (e.g. each phase's latents and cameras), drawn from
        ``draws`` before any phase runs. The default draws nothing."""
        return {}

    @abstractmethod
    def loss(self, phase: Phase, real: Batch, inputs: dict, draws: Draws, progress: Progress
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The scalar loss of ``phase`` (before the gain ``phase.interval``) and tensors to log
        (per-sample or scalar; the core averages them for the log)."""

    def schedule(self, progress: Progress) -> dict[str, float]:
        """Schedule values at ``progress`` (blur sigma, resolution, swap probability...), logged each tick."""
        return {}

    def ema_beta(self, progress: Progress) -> float:
        """Decay of the EMA update after this iteration (0 copies the network)."""
        return 0.999

    def after_phase(self, phase: Phase, progress: Progress) -> None:
        """Called after ``phase``'s optimizer step (e.g. clamping, a buffer update)."""

    def after_iteration(self, progress: Progress, logs: dict[str, float]) -> None:
        """Called once per iteration after the EMA update (e.g. ADA's probability adjustment); values it adds
        to ``logs`` are logged with the iteration's (e.g. ``Progress/augment``)."""

    @abstractmethod
    def export(self, module: nn.Module) -> "gan3d.Generator":  # noqa: F821
        """``module`` (the EMA network) as a :class:`gan3d.Generator` with a card describing this run."""

    def extra_state(self) -> dict:
        """Trainer state beyond networks and optimizers to save in snapshots (e.g. ADA's p)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass


@dataclass(frozen=True)
class TrainerEntry:
    """A registered trainer: ``method`` names it in configs (``method = "eg3d"``).

    options: the pydantic model of the method's hyper-parameters (unknown fields are refused);
    presets: named dicts of options (and of ``batch`` / ``kimg`` defaults under those keys);
    build(options, data_info, device) -> Trainer;
    check_data(options, data_info) -> list of problems (empty if the data suits the method), called
    before any work so e.g. a data set without camera labels is refused with a clear message.
    """

    method: str
    options: type[BaseModel]
    build: Callable
    presets: dict[str, dict] = field(default_factory=dict)
    check_data: Callable | None = None
    description: str = ""
    plugin: str = ""
