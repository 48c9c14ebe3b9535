"""Models as the gallery checks and times them: googlenet without its training-only auxiliary heads,
a detector with its post-processing, and the zoo's hybrid at its paper's resolution."""

import torch
from torchvision import models

import netprof.zoo


def googlenet():
    # aux_logits=False: the auxiliary classifiers only run in training; init_weights avoids scipy's slow init
    return models.googlenet(weights=None, aux_logits=False, init_weights=False)


def ssdlite320_mobilenet_v3_large():
    """torchvision's SSDLite detector on a 320 x 320 image, in eval mode: the whole forward,
    post-processing included (box decoding, score filtering, per-class NMS), as a deployment runs it.
    Random weights; a fixed seed so the boxes that survive the filtering, and so the work of the
    post-processing, are the same on every run."""
    torch.manual_seed(0)
    model = models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None).eval()
    return model, ([torch.rand(3, 320, 320)],)


def mobilevit_s():
    """MobileViT-S (netprof.zoo, the hybrid) at its paper's 256 x 256."""
    return netprof.zoo.mobilevit_s().eval(), torch.randn(1, 3, 256, 256)
