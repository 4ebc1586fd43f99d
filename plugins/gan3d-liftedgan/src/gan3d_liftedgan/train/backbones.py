"""The frozen networks LiftedGAN's losses need: VGG16 (perceptual) and a face embedding (identity).

Weights come through gan3d's backbone cache (:func:`gan3d.eval.weights.resolve_backbone`, sha256-checked):
torchvision's ImageNet VGG16 (``vgg16-397923af.pth``), the authors' LResNet-18 (``lresnet_casia.pth.tar``,
only on Google Drive, so it is never downloaded: put it in the cache by hand) or FaceNet (VGGFace2,
facenet-pytorch) where the LResNet cannot be had. ``pretrained=False`` builds randomly initialised
networks from a fixed seed (:data:`RANDOM_SEED`), so a resumed run and every ablation see the same frozen
features: offline tests, and the synthetic-world recipes where no pretrained file can be downloaded. The
trainer says so wherever it reports.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan3d.errors import CheckpointError
from gan3d.eval.weights import FACENET_VGGFACE2, TORCHVISION_VGG16, BackboneFile, resolve_backbone
from gan3d.unpickle import load_state_dict

from .losses import PerceptualLoss

LRESNET_CASIA = BackboneFile(
    name="lresnet-casia", filename="lresnet_casia.pth.tar",
    url="https://drive.google.com/file/d/1qVoWu_fps17iTzYptwuN3ptgYeCpIl2e/view (pretrained/ in the zip)")
RANDOM_SEED = 0
RANDOM_NOTE = f"random (seed {RANDOM_SEED}, not pretrained)"


def _seeded(build):
    """``build()`` with torch's CPU generator seeded at :data:`RANDOM_SEED`, leaving the caller's RNG untouched
    (the frozen random features must not depend on how much randomness the run drew before)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        return build()


def vgg16_features(pretrained: bool = True, weights: str | None = None) -> tuple[nn.Sequential, str]:
    """VGG16's ``features[:23]`` and a note on the weights (their sha256, or "random")."""
    from torchvision.models.vgg import cfgs, make_layers

    # VGG16's convolutional part only (the classifier is never used)
    feats = _seeded(lambda: make_layers(cfgs["D"])[:23])
    if not pretrained:
        return feats, RANDOM_NOTE
    path, digest = resolve_backbone(TORCHVISION_VGG16, weights)
    state = load_state_dict(path)
    sd = {k.removeprefix("features."): v for k, v in state.items()
          if k.startswith("features.") and int(k.split(".")[1]) < 23}
    feats.load_state_dict(sd, strict=True)
    return feats, f"vgg16 sha256 {digest}"


def perceptual_loss(pretrained: bool = True, weights: str | None = None, n_scale: int = 3,
                    indices: tuple[int, ...] = (1, 2, 3), loss_type: str = "cosine") -> tuple[PerceptualLoss, str]:
    feats, note = vgg16_features(pretrained, weights)
    return PerceptualLoss(feats, n_scale, indices, loss_type).eval(), note


class IRBlock(nn.Module):
    """LResNet's pre-activation residual block (no SE): BN, conv3x3, BN, PReLU, conv3x3 (stride), BN + skip."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(self.bn0(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class LResNet18(nn.Module):
    """The authors' face embedding (``LResNet(nch=3, image_size=(128,128), nlayer=18)``), key for key.

    ``[B,3,H,W]`` in [-1,1] (no other normalisation, as the official) -> unit embeddings ``[B,512]``. A 256-px
    input is average-pooled to 128 as the official does; other sizes are resized to 128 (bilinear), which
    the official code does not support (gan3d's 64-px world).
    """

    def __init__(self, width: tuple[int, ...] = (64, 128, 256, 512), ndim: int = 512, image_size: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width[0], 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width[0])
        self.act_layer = nn.PReLU(width[0])
        inplanes = width[0]
        for i, (planes, stride) in enumerate(zip(width, (1, 2, 2, 2)), start=1):
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, 0, bias=False), nn.BatchNorm2d(planes))
            setattr(self, f"layer{i}", nn.Sequential(IRBlock(inplanes, planes, stride, down), IRBlock(planes, planes)))
            inplanes = planes
        self.bn4 = nn.BatchNorm2d(width[3])
        self.dropout = nn.Dropout(0.4)
        side = image_size
        for _ in range(4):
            side = math.ceil(side / 2)
        self.fc5 = nn.Linear(width[3] * side * side, ndim)
        self.bn5 = nn.BatchNorm1d(ndim)
        self.image_size = image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] == 2 * self.image_size:
            x = F.avg_pool2d(x, 2, stride=2)
        elif x.shape[2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        x = self.act_layer(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(self.bn4(x)).flatten(1)
        return F.normalize(self.bn5(self.fc5(x)), p=2, dim=1)


class FaceNetEmbedding(nn.Module):
    """FaceNet (InceptionResnetV1, VGGFace2) on the whole image resized to 160 px: ``[B,3,H,W]`` in [-1,1]
    -> unit embeddings ``[B,512]``. No face detection or alignment (the official identity loss has none
    either), and [-1,1] is close to FaceNet's own ``(x - 127.5) / 128`` input scaling."""

    def __init__(self, net: nn.Module, image_size: int = 160):
        super().__init__()
        self.net, self.image_size = net, image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return self.net(x)


def face_embedding(kind: str, pretrained: bool = True, weights: str | None = None) -> tuple[nn.Module, str]:
    """The frozen identity network ``kind`` ('lresnet_casia' or 'facenet') in eval mode and a note on its weights."""
    if kind == "lresnet_casia":
        net = _seeded(LResNet18)
        note = RANDOM_NOTE
        if pretrained:
            path, digest = resolve_backbone(LRESNET_CASIA, weights, allow_download=False)
            obj = load_state_dict(path)
            state = obj.get("model_state_dict", obj) if isinstance(obj, dict) else None
            if not isinstance(state, dict):
                raise CheckpointError(f"{path} is not the LResNet checkpoint (no model_state_dict)")
            state = {k.removeprefix("module."): v for k, v in state.items()}
            net.load_state_dict(state, strict=True)
            note = f"lresnet_casia sha256 {digest}"
    elif kind == "facenet":
        from facenet_pytorch import InceptionResnetV1

        inner = _seeded(lambda: InceptionResnetV1(pretrained=None, classify=False))
        note = RANDOM_NOTE
        if pretrained:
            path, digest = resolve_backbone(FACENET_VGGFACE2, weights)
            state = {k: v for k, v in load_state_dict(path).items() if not k.startswith("logits.")}
            inner.load_state_dict(state)
            note = f"facenet-vggface2 sha256 {digest}"
        net = FaceNetEmbedding(inner)
    else:
        raise ValueError(f"unknown face embedding {kind!r}")
    return net.eval().requires_grad_(False), note
