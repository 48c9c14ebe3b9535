"""torchvision models as the gallery times them: googlenet without its training-only auxiliary heads."""

from torchvision import models


def googlenet():
    # aux_logits=False: the auxiliary classifiers only run in training; init_weights avoids scipy's slow init
    return models.googlenet(weights=None, aux_logits=False, init_weights=False)
