"""MobileViT: a hybrid of MobileNet V2 blocks and transformers.

Paper: Mehta, Rastegari, "MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision
Transformer", ICLR 2022, arXiv 2110.02178 (Figure 1b for the block, Table 4 in Appendix A for
the layers of MobileViT-XXS, XS and S: 1.3, 2.3 and 5.6 M parameters).

A MobileViT block models local and global structure in one unit: a 3x3 conv and a 1x1 conv
(to the transformer width ``d``), then the map is unfolded into ``P = 2 x 2`` interleaved
sequences of ``N = hw / 4`` patches each, ``L`` pre-norm transformer layers (multi-head
attention, then an MLP) run over each sequence, the map is folded back, a 1x1 conv returns to
the block's width, and a 3x3 conv fuses the result with the block's input (concatenated).
Every stage but the first two ends in one, after a stride-2 MobileNet V2 block.

Choices the paper leaves open, taken from the authors' release (ml-cvnets) as timm ports it:
- the MobileNet V2 blocks have expansion 4 (2 in XXS), SiLU activations and no shortcut where
  the width or stride changes; the stem is one 3x3 stride-2 conv to 16 channels;
- the transformer layers have 4 heads, biased q/k/v and output projections, an MLP twice
  the width ``d`` with SiLU, and one LayerNorm after the last layer;
- the 1x1 conv into the transformer has neither norm nor activation, the 1x1 conv out of it
  and the fusion conv have batch norm and SiLU;
- a map whose sides are not multiples of the patch is resized (bilinear) to the next multiple
  before unfolding and back after folding: at 224 x 224 the last stage's 7 x 7 map becomes
  8 x 8 (the paper trains and reports at 256 x 256, where no resize happens);
- the classifier is a 1x1 conv to 4x the last width (640 in S), global pooling and a linear layer.

Checked against timm 1.0.31's ``mobilevit_xxs``, ``_xs`` and ``_s``: the same parameter counts
(1,272,024, 2,317,848 and 5,578,632) and, with timm's weights loaded in order, identical outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from netprof.zoo.layers import ConvBNAct, InvertedResidual, PooledClassifier

STEM_CHANNELS = 16
PATCH = 2
HEADS = 4
MLP_RATIO = 2
# Per variant: MobileNet V2 expansion; widths of stages 1-5; transformer width d and depth L
# of the MobileViT blocks ending stages 3-5; width of the last 1x1 conv. Paper Table 4.
VARIANTS: dict[str, tuple[int, tuple[int, ...], tuple[tuple[int, int], ...], int]] = {
    "xxs": (2, (16, 24, 48, 64, 80), ((64, 2), (80, 4), (96, 3)), 320),
    "xs": (4, (32, 48, 64, 80, 96), ((96, 2), (120, 4), (144, 3)), 384),
    "s": (4, (32, 64, 96, 128, 160), ((144, 2), (192, 4), (240, 3)), 640),
}


class Attention(nn.Module):
    """Multi-head self-attention: one fused q/k/v projection, scaled dot-product attention, output projection."""

    def __init__(self, dim: int, heads: int = HEADS) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class TransformerLayer(nn.Module):
    """Pre-norm transformer layer: x + attention(LN(x)), then x + MLP(LN(x)) with SiLU."""

    def __init__(self, dim: int, heads: int = HEADS, mlp_ratio: int = MLP_RATIO) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.SiLU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MobileViTBlock(nn.Module):
    """Local 3x3 and 1x1 convs, unfold, ``depth`` transformer layers, fold, 1x1 conv, fuse with the input."""

    def __init__(self, channels: int, dim: int, depth: int, patch: int = PATCH) -> None:
        super().__init__()
        self.patch = patch
        self.conv_kxk = ConvBNAct(channels, channels, 3, activation=nn.SiLU)
        self.conv_1x1 = nn.Conv2d(channels, dim, 1, bias=False)
        self.transformer = nn.Sequential(*(TransformerLayer(dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.conv_proj = ConvBNAct(dim, channels, 1, activation=nn.SiLU)
        self.conv_fusion = ConvBNAct(2 * channels, channels, 3, activation=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_1x1(self.conv_kxk(x))
        b, c, h, w = x.shape
        p = self.patch
        new_h, new_w = math.ceil(h / p) * p, math.ceil(w / p) * p
        resized = (new_h, new_w) != (h, w)
        if resized:
            x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
        ph, pw = new_h // p, new_w // p
        # Unfold: [b, c, h, w] -> [b * p * p, patches, c], one sequence per position inside a patch.
        x = x.reshape(b * c * ph, p, pw, p).transpose(1, 2)
        x = x.reshape(b, c, ph * pw, p * p).transpose(1, 3).reshape(b * p * p, ph * pw, c)
        x = self.norm(self.transformer(x))
        # Fold back.
        x = x.contiguous().view(b, p * p, ph * pw, c).transpose(1, 3).reshape(b * c * ph, pw, p, p)
        x = x.transpose(1, 2).reshape(b, c, new_h, new_w)
        if resized:
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        return self.conv_fusion(torch.cat((shortcut, self.conv_proj(x)), dim=1))


class MobileViT(PooledClassifier):
    def __init__(self, variant: str = "s", num_classes: int = 1000, dropout: float = 0.1) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown MobileViT variant {variant!r} (known: {', '.join(VARIANTS)})")
        expansion, widths, transformers, last = VARIANTS[variant]
        layers: list[nn.Module] = [ConvBNAct(3, STEM_CHANNELS, 3, stride=2, activation=nn.SiLU)]
        channels = STEM_CHANNELS
        # Stage 1: one MobileNet V2 block; stage 2: three, the first with stride 2.
        for out, stride in ((widths[0], 1), (widths[1], 2), (widths[1], 1), (widths[1], 1)):
            layers.append(InvertedResidual(channels, channels * expansion, out, 3, stride, nn.SiLU))
            channels = out
        # Stages 3-5: a stride-2 MobileNet V2 block, then a MobileViT block.
        for out, (dim, depth) in zip(widths[2:], transformers):
            layers.append(
                nn.Sequential(
                    InvertedResidual(channels, channels * expansion, out, 3, 2, nn.SiLU),
                    MobileViTBlock(out, dim, depth),
                )
            )
            channels = out
        layers.append(ConvBNAct(channels, last, 1, activation=nn.SiLU))
        super().__init__(
            nn.Sequential(*layers), nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        )


def mobilevit(*, variant: str = "s", num_classes: int = 1000) -> MobileViT:
    """MobileViT ``"xxs"``, ``"xs"`` or ``"s"`` (the default, the paper's headline model)."""
    return MobileViT(variant=variant, num_classes=num_classes)


def mobilevit_s(*, num_classes: int = 1000) -> MobileViT:
    return MobileViT("s", num_classes)


def mobilevit_xs(*, num_classes: int = 1000) -> MobileViT:
    return MobileViT("xs", num_classes)


def mobilevit_xxs(*, num_classes: int = 1000) -> MobileViT:
    return MobileViT("xxs", num_classes)
