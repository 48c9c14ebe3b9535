"""A YOLO-style detector (YOLOv8's layer table) built from a TOML config, without weights.

The config is a layer table, as YOLOv8's published one: each layer ``[from, repeats, module, args]``,
``repeats`` scaled by the depth multiple and output channels by the width multiple (rounded up to a
multiple of 8, capped at ``max_channels``) of a scale (``n``, ``s``, ``m``). Written from the
architecture as published (Jocher et al., Ultralytics YOLOv8, 2023), not from its code. The head
decodes boxes (distribution focal loss bins to distances, distances to boxes at each anchor) and
scores; non-maximum suppression is left to the caller, as the published model leaves it, unless
``nms=True``: then the model ends as a deployment that exports it end to end does, with class-aware
NMS over the candidates whose best class scores above ``score_thresh`` (at most ``topk_candidates``
of them, the best), as Ultralytics' ``non_max_suppression`` runs it (conf 0.25, IoU 0.7, 30,000
candidates, 300 detections; torchvision's ``nms`` kernel, so torchvision must be installed).

    >>> from netprof.zoo import yolo
    >>> model = yolo(scale="n")            # netprof/zoo/configs/yolov8.toml
    >>> model(torch.randn(1, 3, 640, 640)).shape  # (1, 4 + 80, 8400): boxes and class scores per anchor
    >>> yolo(scale="n", nms=True)(torch.randn(1, 3, 640, 640))[0].shape  # (kept, 6): x1 y1 x2 y2 score class
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib
import torch
from torch import nn

REG_MAX = 16  # bins of the distribution each box side is predicted as
CLASS_OFFSET = 7680.0  # added per class to the boxes before one NMS, so that two classes never overlap


class Conv(nn.Module):
    """Convolution, batch norm, SiLU; padding keeps the size at stride 1."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c2, 3), Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """Split a 1x1 conv's output in two, run bottlenecks on one half in a chain, concat every step."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Three chained max-pools of size ``k``, concatenated: spatial pyramid pooling, fast."""

    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c1 // 2, 1), Conv(c1 // 2 * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class Concat(nn.Module):
    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, self.dim)


class DFL(nn.Module):
    """The expected value of each side's ``REG_MAX``-bin distribution: a fixed 1x1 conv over the softmax."""

    def __init__(self, bins: int = REG_MAX) -> None:
        super().__init__()
        self.conv = nn.Conv2d(bins, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(bins, dtype=torch.float).view(1, bins, 1, 1)
        self.bins = bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.bins, a).transpose(2, 1).softmax(1)).view(b, 4, a)


class Detect(nn.Module):
    """Per level, a box branch (``cv2``: 4 x ``REG_MAX`` bins) and a class branch (``cv3``); then the
    decoding into ``(x, y, w, h)`` in pixels and sigmoid scores, one column per anchor point."""

    def __init__(self, nc: int, channels: Sequence[int], strides: Sequence[int]) -> None:
        super().__init__()
        c2, c3 = max(16, channels[0] // 4, 4 * REG_MAX), max(channels[0], min(nc, 100))
        self.cv2 = nn.ModuleList(
            nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * REG_MAX, 1)) for c in channels
        )
        self.cv3 = nn.ModuleList(
            nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in channels
        )
        self.dfl = DFL()
        self.nc, self.strides = nc, tuple(strides)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        outputs = [torch.cat((box(x), cls(x)), 1) for x, box, cls in zip(xs, self.cv2, self.cv3)]
        anchors, strides = _anchors(outputs, self.strides)
        box, cls = torch.cat([o.flatten(2) for o in outputs], 2).split((4 * REG_MAX, self.nc), 1)
        left_top, right_bottom = self.dfl(box).chunk(2, 1)
        corner_min, corner_max = anchors - left_top, anchors + right_bottom
        boxes = torch.cat(((corner_min + corner_max) / 2, corner_max - corner_min), 1) * strides
        return torch.cat((boxes, cls.sigmoid()), 1)


def _anchors(outputs: Sequence[torch.Tensor], strides: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each cell's centre in its level's grid, ``(2, anchors)``, and its level's stride, ``(1, anchors)``."""
    points, scales = [], []
    for output, stride in zip(outputs, strides):
        h, w = output.shape[2:]
        ys = torch.arange(h, dtype=output.dtype, device=output.device) + 0.5
        xs = torch.arange(w, dtype=output.dtype, device=output.device) + 0.5
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x, grid_y)).view(2, -1))
        scales.append(torch.full((1, h * w), float(stride), dtype=output.dtype, device=output.device))
    return torch.cat(points, 1), torch.cat(scales, 1)


class YOLO(nn.Module):
    """The layer list (``model``, as the config numbers it) and the layers each one reads; with ``nms``,
    the detections of each image after non-maximum suppression instead of every anchor's prediction."""

    def __init__(
        self, layers: Sequence[nn.Module], sources: Sequence[int | list[int]], nms: bool = False
    ) -> None:
        super().__init__()
        self.model = nn.ModuleList(layers)
        self.sources = [list(s) if isinstance(s, list) else s for s in sources]
        self.nms = nms
        if nms:  # the knobs torchvision's detectors name the same way (netprof.detection.load sets them)
            self.score_thresh, self.iou_thresh = 0.25, 0.7
            self.topk_candidates, self.detections_per_img = 30_000, 300

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        outputs: list[Any] = []
        for layer, source in zip(self.model, self.sources):
            if isinstance(source, list):
                x = [x if j == -1 else outputs[j] for j in source]
            elif source != -1:
                x = outputs[source]
            x = layer(x)
            outputs.append(x)
        return [self._suppress(image) for image in x] if self.nms else x

    def _suppress(self, prediction: torch.Tensor) -> torch.Tensor:
        """``(4 + classes, anchors)`` -> ``(kept, 6)``: x1, y1, x2, y2, score, class of each detection."""
        from torchvision.ops import nms

        candidates = prediction.T
        score, label = candidates[:, 4:].max(dim=1)
        keep = score > self.score_thresh
        candidates, score, label = candidates[keep], score[keep], label[keep]
        if score.numel() > self.topk_candidates:
            score, best = score.topk(self.topk_candidates)
            candidates, label = candidates[best], label[best]
        center, size = candidates[:, :2], candidates[:, 2:4]
        boxes = torch.cat([center - size / 2, center + size / 2], dim=1)
        offsets = label[:, None] * CLASS_OFFSET
        kept = nms(boxes + offsets, score, self.iou_thresh)[: self.detections_per_img]
        return torch.cat([boxes[kept], score[kept, None], label[kept, None].to(boxes.dtype)], dim=1)


def _divisible(value: float, divisor: int = 8) -> int:
    return math.ceil(value / divisor) * divisor


def _config(config: str | Path) -> dict[str, Any]:
    path = Path(config)
    if path.suffix == ".toml" and path.is_file():
        return tomllib.loads(path.read_text())
    return tomllib.loads(resources.files("netprof.zoo").joinpath("configs", f"{config}.toml").read_text())


def yolo(
    *, config: str = "yolov8", scale: str = "n", num_classes: int | None = None, nms: bool = False
) -> YOLO:
    """The detector of ``config`` (a name under ``netprof/zoo/configs`` or a ``.toml`` path) at ``scale``,
    ending with non-maximum suppression when ``nms``."""
    spec = _config(config)
    depth, width, max_channels = spec["scales"][scale]
    nc = num_classes if num_classes is not None else spec["nc"]
    rows = [*spec["layers"]["backbone"], *spec["layers"]["head"]]
    channels: list[int] = []  # each layer's output channels
    strides: list[int] = []  # each layer's output stride
    layers, sources = [], []
    for source, repeats, name, args in rows:
        first = source if isinstance(source, int) else source[0]
        c1 = channels[first] if channels else 3
        stride = strides[first] if strides else 1
        n = max(round(repeats * depth), 1) if repeats > 1 else repeats
        if name in ("Conv", "C2f", "SPPF"):
            c2 = _divisible(min(args[0], max_channels) * width)
            if name == "Conv":
                layer, stride = Conv(c1, c2, *args[1:]), stride * (args[2] if len(args) > 2 else 1)
            elif name == "C2f":
                layer = C2f(c1, c2, n, *args[1:])
            else:
                layer = SPPF(c1, c2, *args[1:])
        elif name == "Upsample":
            layer, c2, stride = nn.Upsample(scale_factor=args[0], mode="nearest"), c1, stride // args[0]
        elif name == "Concat":
            layer, c2 = Concat(*args), sum(channels[j] for j in source)
        elif name == "Detect":
            layer, c2 = Detect(nc, [channels[j] for j in source], [strides[j] for j in source]), 4 + nc
        else:
            raise ValueError(f"unknown layer {name!r} in config {config!r}")
        layers.append(layer)
        sources.append(source)
        channels.append(c2)
        strides.append(stride)
    return YOLO(layers, sources, nms)
