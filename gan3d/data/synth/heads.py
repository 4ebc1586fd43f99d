"""Procedural head meshes: skull and face, ears, neck and clothes, eyes, brows, nose, lips, hair, glasses.

Every part is a regular grid of vertices computed in closed form from the identity parameters, so a
batch of heads shares one face list (parts that are absent, such as glasses, collapse to a point and
their faces have zero area, which the rasteriser skips) and building a batch is a few tensor ops.

Geometry is written in millimetres in a head frame that is the world frame scaled: x towards world +x
(the subject's left, the right of a frontal image), y up, z out of the face (towards the frontal camera),
origin at the centre the orbit camera circles. The landmark positions follow
:data:`gan3d.eval.pose.GENERIC_FACE` (eyes 26 mm above and the nose tip 10 mm below that centre, the
nose tip 95 mm in front of it) at :data:`MM` world units per millimetre, so a frontal face fills an
FFHQ-like share of EG3D's FFHQ camera frame.

Flat features (eyes, brows, lips) are decals: grids whose (x, y) outline is drawn on the face and whose
z is the face surface's plus a small offset. The face surface is a deformed ellipsoid with a closed-form
height :meth:`_Head.surface_z`, so decals sit on it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...render.mesh import grid_faces
from ..masks import CNERF_CLASSES as MASK_CLASSES
from .world import Scenes

MM = 0.0025  # world units per millimetre

# Class ids in CNeRF's training order (MASK_CLASSES; glasses count as eyes, as CNeRF merges eyeglasses).
BACKGROUND, FACE, EYES, MOUTH, BROWS, NOSE, EARS, HAIR, NECK_CLOTH = range(9)


@dataclass
class HeadMesh:
    """A batch of ``B`` head meshes sharing one topology.

    verts:      ``[B,V,3]`` world coordinates.
    albedo:     ``[B,V,3]`` vertex colours in ``[0,1]``.
    faces:      ``[F,3]`` int64 vertex indices.
    face_class: ``[F]`` int64 semantic class of each face (:data:`MASK_CLASSES`).
    one_sided:  ``[F]`` bool, faces whose normal (right-hand rule) points outside: invisible from behind.
    """

    verts: torch.Tensor
    albedo: torch.Tensor
    faces: torch.Tensor
    face_class: torch.Tensor
    one_sided: torch.Tensor


def _smoothstep(edge0: float, edge1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - edge0) / (edge1 - edge0)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _gauss(x: torch.Tensor, width: float) -> torch.Tensor:
    return torch.exp(-(x / width) ** 2)


class _Parts:
    """Collects grid parts into one vertex/face list."""

    def __init__(self, batch: int):
        self.batch = batch
        self.verts: list[torch.Tensor] = []
        self.albedo: list[torch.Tensor] = []
        self.faces: list[torch.Tensor] = []
        self.classes: list[torch.Tensor] = []
        self.one_sided: list[torch.Tensor] = []
        self.count = 0

    def add(self, xyz: torch.Tensor, albedo: torch.Tensor, cls: int, outward: str | None = None) -> None:
        """``xyz [B,h,w,3]`` millimetres; ``albedo`` broadcastable to it.

        ``outward`` makes the part one-sided (its back faces may be culled): ``"centre"`` for a closed
        surface whose outside faces away from its centroid, ``"front"`` for a decal seen from +z. The
        winding is flipped where needed so that every one-sided face's normal points outside.
        """
        B, h, w, _ = xyz.shape
        verts = xyz.reshape(B, h * w, 3)
        f = grid_faces(h, w)
        if outward is not None:
            v = verts[0]
            a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
            normal = torch.cross(b - a, c - a, dim=-1)
            ref = (a + b + c) / 3 - v.mean(0) if outward == "centre" else torch.tensor([0.0, 0.0, 1.0])
            if (normal * ref).sum() < 0:
                f = f[:, [0, 2, 1]]
        self.verts.append(verts)
        self.albedo.append(torch.broadcast_to(albedo, (B, h, w, 3)).reshape(B, h * w, 3))
        self.faces.append(f + self.count)
        self.classes.append(torch.full((f.shape[0],), cls, dtype=torch.int64))
        self.one_sided.append(torch.full((f.shape[0],), outward is not None))
        self.count += h * w

    def mesh(self) -> HeadMesh:
        return HeadMesh(verts=torch.cat(self.verts, 1) * MM, albedo=torch.cat(self.albedo, 1).clamp(0, 1),
                        faces=torch.cat(self.faces), face_class=torch.cat(self.classes),
                        one_sided=torch.cat(self.one_sided))


def _lin(a: float, b: float, n: int) -> torch.Tensor:
    return torch.linspace(a, b, n, dtype=torch.float32)


def _b(t: torch.Tensor) -> torch.Tensor:
    """Per-sample ``[B]`` -> ``[B,1,1]`` for broadcasting against ``[B,h,w]`` grids."""
    return t.float()[:, None, None]


class _Head:
    """The skull-and-face surface of a batch: a deformed ellipsoid in unit-sphere coordinates (X, Y, Z)."""

    CY, CZ, AZ = 12.0, -18.0, 98.0

    def __init__(self, s: Scenes):
        p = s.param
        self.ax = _b(76.0 * p("head_width"))
        self.ay_up = 130.0
        self.ay_lo = _b(126.0 * p("face_length"))
        self.jaw = _b(p("jaw_width"))
        self.chin = _b(p("chin"))
        self.face_length = _b(p("face_length"))
        self.eye_x = _b(30.5 * p("eye_spacing"))
        self.eye_y = 26.0

    def fy(self, y0: float | torch.Tensor) -> torch.Tensor | float:
        """A height given for the average face (mm) scaled for this face's length below the centre."""
        return self.CY + (y0 - self.CY) * self.face_length if (not torch.is_tensor(y0) and y0 < self.CY) else y0

    def width(self, Y: torch.Tensor) -> torch.Tensor:
        """Horizontal scale of the ring at height ``Y``: the jaw narrows the lower face."""
        return 1.0 - (1.0 - self.jaw) * _smoothstep(0.05, -0.75, Y)

    def front(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Forward relief of the face (mm): chin, muzzle, cheekbones, brow ridge, eye sockets."""
        ex = self.eye_x / self.ax
        ey = (self.eye_y - self.CY) / self.ay_up
        relief = 16.0 * self.chin * _gauss(Y + 0.63, 0.13) * _gauss(X, 0.33)
        relief = relief + 9.0 * _gauss(Y + 0.36, 0.2) * _gauss(X, 0.4)
        relief = relief + 5.0 * _gauss(X.abs() - 0.55, 0.16) * _gauss(Y + 0.02, 0.12)
        relief = relief + 4.0 * _gauss(Y - ey - 0.1, 0.06) * _gauss(X, 0.6)
        relief = relief - 7.0 * _gauss(X.abs() - ex, 0.17) * _gauss(Y - ey, 0.085)
        return relief

    def xyz(self, X: torch.Tensor, Y: torch.Tensor, Z: torch.Tensor, grow: float | torch.Tensor = 0.0,
            relief: bool = True) -> torch.Tensor:
        """Unit-sphere coordinates -> head surface (mm) ``[...,3]``; ``grow`` inflates it (hair)."""
        ay = torch.where(Y >= 0, torch.full_like(Y, self.ay_up), self.ay_lo.expand_as(Y))
        x = (self.ax * self.width(Y) + grow) * X
        y = self.CY + (ay + grow) * Y
        z = self.CZ + (self.AZ + grow) * Z
        if relief:
            z = z + self.front(X, Y) * Z.clamp_min(0) ** 2
        return torch.stack((x, y, z), -1)

    def surface_z(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Front surface height (mm) at ``(x, y)`` (inverse of :meth:`xyz` on the front half)."""
        ay = torch.where(y >= self.CY, torch.full_like(y, self.ay_up), self.ay_lo.expand_as(y))
        Y = (y - self.CY) / ay
        X = x / (self.ax * self.width(Y))
        Z = (1 - X ** 2 - Y ** 2).clamp_min(0).sqrt()
        return self.CZ + self.AZ * Z + self.front(X, Y) * Z ** 2


def _sphere_grid(h: int, w: int, B: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unit sphere ``[B,h,w]`` X, Y, Z: rows from the top pole to the bottom, the seam at the back."""
    t = _lin(0, math.pi, h)[:, None]
    phi = _lin(-math.pi, math.pi, w)[None, :]
    X = torch.sin(t) * torch.sin(phi)
    Y = torch.cos(t).expand(h, w)
    Z = torch.sin(t) * torch.cos(phi)
    return X.expand(B, h, w), Y.expand(B, h, w), Z.expand(B, h, w)


def _rgb(s: Scenes, name: str) -> torch.Tensor:
    """Colour ``name`` of each identity as ``[B,1,1,3]``."""
    return torch.stack([s.param(f"{name}_{c}") for c in "rgb"], -1).float()[:, None, None, :]


def _decal(head: _Head, x: torch.Tensor, y: torch.Tensor, lift: float | torch.Tensor) -> torch.Tensor:
    x, y = torch.broadcast_tensors(x, y)
    x, y, z = torch.broadcast_tensors(x, y, head.surface_z(x, y) + lift)
    return torch.stack((x, y, z), -1)


def build_heads(s: Scenes) -> HeadMesh:
    """The meshes of ``s``'s identities with their smiles (world coordinates, shared topology)."""
    B = len(s)
    head = _Head(s)
    parts = _Parts(B)
    p = s.param
    skin = _rgb(s, "skin")
    hair = _rgb(s, "hair")
    smile = _b(s.smile)

    # skull and face, with a little blush on the cheeks
    X, Y, Z = _sphere_grid(34, 48, B)
    face_xyz = head.xyz(X, Y, Z)
    blush = _gauss(X.abs() - 0.5, 0.2) * _gauss(Y + 0.1, 0.15) * Z.clamp_min(0)
    tint = 1 - blush[..., None] * torch.tensor([0.0, 0.12, 0.1])
    parts.add(face_xyz, skin * tint, FACE, "centre")

    # hair: a shell over the skull whose hairline depends on coverage; long hair hangs down as a curtain
    cov, length = _b(p("hair_coverage")), _b(p("hair_length"))
    h_rows, h_cols = 16, 44
    t = _lin(0, 1, h_rows)[None, :, None]
    phi = _lin(-math.pi, math.pi, h_cols)[None, None, :]
    a_front = torch.deg2rad(26 + 42 * cov)
    a_side = torch.deg2rad(55 + 45 * cov + 45 * length * cov)
    a_back = torch.deg2rad(90 + 35 * cov + 50 * length * cov)
    c = torch.cos(phi)
    front_w = ((c - math.cos(math.radians(72))) / (1 - math.cos(math.radians(72)))).clamp(0, 1) ** 0.4
    a_max = torch.where(c >= 0, a_side + (a_front - a_side) * front_w, a_side + (a_back - a_side) * (-c))
    alpha = t * a_max
    cap = alpha.clamp(max=math.pi / 2)
    hx, hy, hz = torch.sin(cap) * torch.sin(phi), torch.cos(cap), torch.sin(cap) * torch.cos(phi)
    # hair is thicker on the crown than at the hairline and the nape
    hair_xyz = head.xyz(hx, hy, hz, grow=5.0 + (4.0 + 10.0 * cov) * hy.clamp_min(0), relief=False)
    drop = (alpha - math.pi / 2).clamp_min(0) * 105.0
    flare = 1 + drop / 600
    hair_xyz = torch.stack((hair_xyz[..., 0] * flare, hair_xyz[..., 1] - drop,
                            head.CZ + (hair_xyz[..., 2] - head.CZ) * flare), -1)
    streaks = 1 + 0.1 * torch.sin(phi * 37 + t * 5) * torch.sin(phi * 13)
    parts.add(hair_xyz, hair * streaks[..., None], HAIR, "centre")

    # ears: flattened ellipsoids on the sides, turned so that their back edge stands off the head
    esz = _b(p("ear_size"))
    for sign in (-1.0, 1.0):
        X, Y, Z = _sphere_grid(8, 12, B)
        turn = math.radians(28) * sign
        ex, ey, ez = 6.0 * X, 30.0 * esz * Y, 17.0 * esz * Z
        rx = ex * math.cos(turn) + ez * math.sin(turn)
        rz = -ex * math.sin(turn) + ez * math.cos(turn)
        cx = sign * (head.ax - 1.0)
        ear = torch.stack((rx + cx, ey + 6.0, rz - 14.0), -1)
        parts.add(ear, skin * torch.tensor([1.0, 0.9, 0.88]), EARS, "centre")

    # neck and clothes
    phi = _lin(-math.pi, math.pi, 24)[None, None, :]
    ny = _lin(-30, -200, 5)[None, :, None].expand(B, 5, 24)
    neck = torch.stack(((50 * _b(p("head_width")) * torch.sin(phi)).expand(B, 5, 24), ny,
                        (-22 + 50 * torch.cos(phi)).expand(B, 5, 24)), -1)
    parts.add(neck, skin * 0.9, NECK_CLOTH, "centre")
    phi = _lin(-math.pi, math.pi, 32)[None, None, :]
    k = _lin(0, 1, 6)[None, :, None]
    cloth = torch.stack(((51 + 170 * k ** 0.6) * torch.sin(phi), (-150 - 190 * k).expand(1, 6, 32),
                         -22 + (51 + 60 * k ** 0.6) * torch.cos(phi)), -1).expand(B, 6, 32, 3)
    parts.add(cloth, _rgb(s, "cloth"), NECK_CLOTH, "centre")

    # nose: a height field over the face, from between the eyes to the base; darker nostrils
    nl, nw, nh = _b(p("nose_length")), _b(p("nose_width")), _b(p("nose_height"))
    sr = _lin(0, 1, 14)[None, :, None]
    u = _lin(-1, 1, 13)[None, None, :]
    y_top, y_base = 30.0, head.fy(-18.0)
    y_base = y_top + (y_base - y_top) * nl
    ny = y_top + (y_base - y_top) * sr
    half = 6.0 + (15.5 * nw - 6.0) * sr ** 2
    nx = u * half
    prof = 0.2 + 0.8 * sr ** 1.5
    prof = prof * (1 - 0.75 * ((sr - 0.82) / 0.18).clamp_min(0) ** 2)
    bump = 21.0 * nh * prof * (1 - u ** 2).clamp_min(0) ** 0.8
    wings = 4.0 * _gauss(u.abs() - 0.72, 0.2) * _gauss(sr - 0.9, 0.09)
    nose = _decal(head, nx, ny, bump + wings + 0.6)
    nostril = _gauss(u.abs() - 0.42, 0.2) * _gauss(sr - 1.0, 0.08)
    parts.add(nose, skin * torch.tensor([1.0, 0.96, 0.95]) * (1 - 0.75 * nostril[..., None]), NOSE, "front")

    # eyes: white, iris, pupil and a dark upper lid line, set into the eye sockets
    esize = _b(p("eye_size"))
    hw, hh = 14.0 * esize, 5.4 * esize
    iris_rgb = _rgb(s, "iris")
    for sign in (-1.0, 1.0):
        ex = sign * head.eye_x
        ey = head.eye_y

        def opening(x: torch.Tensor, ex=ex, sign=sign) -> tuple[torch.Tensor, torch.Tensor]:
            """Centre line and half height of the eye opening at ``x``."""
            u = ((x - ex) / hw).clamp(-1, 1)
            return ey + 0.8 * (1 - u ** 2) + 1.2 * u * sign, hh * (1 - u ** 2).clamp_min(0) ** 0.75

        u = _lin(-1, 1, 11)[None, None, :]
        v = _lin(-1, 1, 5)[None, :, None]
        wx = ex + u * hw
        mid, half_h = opening(wx)
        white = _decal(head, wx.expand(B, 5, 11), (mid + v * half_h).expand(B, 5, 11), 0.8)
        parts.add(white, torch.tensor([0.86, 0.83, 0.8]), EYES, "front")
        for radius, lift, colour in ((6.2 * esize, 1.4, iris_rgb), (2.6 * esize, 2.0, torch.tensor([0.02] * 3))):
            r = _lin(0, 1, 3)[None, :, None]
            th = _lin(0, 2 * math.pi, 16)[None, None, :]
            ix = ex + radius * r * torch.cos(th)
            iy = ey + 0.5 + radius * r * torch.sin(th)
            mid, half_h = opening(ix)
            iy = torch.minimum(torch.maximum(iy, mid - 0.92 * half_h), mid + 0.92 * half_h)
            parts.add(_decal(head, ix.expand(B, 3, 16), iy.expand(B, 3, 16), lift), colour, EYES, "front")
        u = _lin(-1.08, 1.08, 13)[None, None, :]
        lx = ex + u * hw
        mid, half_h = opening(lx)
        top = mid + half_h - 0.6
        lid = torch.cat((top, top + 1.4 + 0.9 * (1 - u ** 2)), 1)  # lower and upper edge of the line
        parts.add(_decal(head, lx.expand(B, 2, 13), lid.expand(B, 2, 13), 2.4),
                  torch.tensor([0.04, 0.03, 0.03]), EYES, "front")

        # brow above the eye: thick at the inner end, arched, tapering to the tail
        bu = _lin(0, 1, 10)[None, None, :]
        bv = _lin(-0.5, 0.5, 3)[None, :, None]
        bx = ex + sign * (-16.0 + 38.0 * bu) * esize
        by = ey + 12.5 * _b(p("brow_height")) + 4.5 * torch.sin(math.pi * 0.85 * bu)
        thick = _b(p("brow_thickness")) * (6.0 - 3.5 * bu)
        brow = _decal(head, bx.expand(B, 3, 10), (by + bv * thick).expand(B, 3, 10), 1.6)
        brow_rgb = torch.minimum(hair, torch.tensor(0.3)) * 0.7
        parts.add(brow, brow_rgb, BROWS, "front")

    # mouth: upper and lower lip around a line whose corners a smile lifts and widens; a smile also
    # opens the lips over the teeth
    mw, lt = _b(p("mouth_width")), _b(p("lip_thickness"))
    y_m = head.fy(-38.0)
    mhw = 24.0 * mw * (1 + 0.22 * smile)
    u = _lin(-1, 1, 17)[None, None, :]
    line = y_m + smile * 7.5 * u.abs() ** 2.2 - 0.8 * (1 - u ** 2)
    opening = 7.0 * smile ** 2 * (1 - u ** 2).clamp_min(0) ** 0.8
    shape = (1 - u ** 2).clamp_min(0) ** 0.55
    upper_lo = line + 0.4 + 0.3 * opening
    upper_hi = upper_lo + 6.0 * lt * (1 - 0.3 * smile) * shape * (1 - 0.25 * _gauss(u, 0.12))
    lower_hi = line - 0.4 - 0.7 * opening
    lower_lo = lower_hi - 8.0 * lt * (1 - 0.3 * smile) * shape
    mx = (u * mhw).expand(B, 4, 17)
    v = _lin(0, 1, 4)[None, :, None]
    lip_rgb = skin * torch.tensor([0.82, 0.5, 0.52]) + torch.tensor([0.08, 0.0, 0.02])
    parts.add(_decal(head, mx, upper_lo + v * (upper_hi - upper_lo), 2.0 + 1.5 * shape), lip_rgb, MOUTH, "front")
    parts.add(_decal(head, mx, lower_hi + v * (lower_lo - lower_hi), 2.0 + 1.5 * shape), lip_rgb, MOUTH, "front")
    inner_top, inner_bot = upper_lo + 1.0, lower_hi - 1.0
    mv = _lin(0, 1, 5)[None, :, None]
    inner = _decal(head, (u * mhw * 0.97).expand(B, 5, 17), inner_top + mv * (inner_bot - inner_top), 1.2)
    teeth = torch.tensor([0.9, 0.88, 0.8])
    dark = torch.tensor([0.12, 0.04, 0.04])
    inner_rgb = torch.where(mv[..., None] < 0.45, teeth, dark) * (1 - 0.6 * u.abs()[..., None] ** 2)
    parts.add(inner, inner_rgb, MOUTH, "front")

    # glasses: two rims, a bridge and the temples; absent glasses collapse to a point (zero-area faces)
    present = _b(p("glasses"))[..., None] > 0.5
    frame = _rgb(s, "frame")
    z_front = head.surface_z(head.eye_x, torch.full_like(head.eye_x, head.eye_y)) + 14.0
    for sign in (-1.0, 1.0):
        ex = sign * head.eye_x
        th = _lin(0, 2 * math.pi, 24)[None, None, :]
        rr = torch.tensor([1.0, 1.16])[None, :, None]  # inner and outer edge of the rim
        gx = ex + 19.0 * rr * torch.cos(th)
        gy = head.eye_y - 1.0 + 14.5 * rr * torch.sin(th)
        rim = torch.stack((gx.expand(B, 2, 24), gy.expand(B, 2, 24), z_front.expand(B, 2, 24)), -1)
        parts.add(torch.where(present, rim, torch.zeros(())), frame, EYES)
        tu = _lin(0, 1, 6)[None, None, :]
        tv = _lin(0, 1, 2)[None, :, None]
        outer = head.eye_x + 21.5
        tx = sign * (outer + (head.ax + 4 - outer) * tu ** 0.5)
        tz = z_front + (-12.0 - z_front) * tu
        ty = head.eye_y + 2 + 2.5 * tv
        temple = torch.stack((tx.expand(B, 2, 6), ty.expand(B, 2, 6), tz.expand(B, 2, 6)), -1)
        parts.add(torch.where(present, temple, torch.zeros(())), frame, EYES)
    bu = _lin(-1, 1, 4)[None, None, :]
    bv = _lin(0, 1, 2)[None, :, None]
    inner_x = head.eye_x - 18.5
    bridge = torch.stack(((bu * inner_x).expand(B, 2, 4), (head.eye_y + 2 + 2.5 * bv).expand(B, 2, 4),
                          (z_front + 1.0).expand(B, 2, 4)), -1)
    parts.add(torch.where(present, bridge, torch.zeros(())), frame, EYES)
    return parts.mesh()
