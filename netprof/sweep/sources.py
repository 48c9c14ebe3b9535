"""What a sweep runs: SOURCE arguments turned into jobs, one model each.

A SOURCE is a text file of SPECs (one per line, ``#`` comments), a registry
glob (``torchvision:*``, ``torchvision:mobilenet*``, ``timm:efficientnet*`` when
timm is installed), or a Python callable (``space.py:candidates``,
``package.module:fn``) that yields SPECs or ``(name, builder)`` pairs: a
search space, whose builders need not be importable by name.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from netprof.capture.loader import SpecError, resolve
from netprof.errors import NetprofError, one_line


class SourceError(NetprofError):
    """A SOURCE that names no models, or cannot be read."""


@dataclass(frozen=True)
class Job:
    """One model of a sweep: its row's name, and a SPEC or a builder."""

    name: str
    spec: str | Callable[[], Any]

    @property
    def described(self) -> str:
        return self.spec if isinstance(self.spec, str) else f"{self.name} (built by the search space)"


def _from_file(path: Path) -> list[Job]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Job(line, line) for line in lines if line]


def torchvision_model(name: str) -> tuple[Any, tuple[Any, ...]]:
    """torchvision's ``name`` without weights, with its family's natural input: a list of images for a
    detector, a 16-frame 224x224 clip for a video model, two frames for optical flow, an image batch for the rest."""
    import torch
    from torchvision import models

    def family(module: Any) -> bool:
        return name in models.list_models(module=module)

    # Detectors and segmenters also default to a pretrained backbone: nothing may be downloaded.
    backbone = {"weights_backbone": None} if family(models.detection) or family(models.segmentation) else {}
    model = models.get_model(name, weights=None, **backbone)
    if family(models.detection):
        return model, ([torch.randn(3, 320, 320)],)
    if family(models.video):
        return model, (torch.randn(1, 3, 16, 224, 224),)  # MViT and S3D need 224; the others take it too
    if family(models.optical_flow):
        return model, (torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128))
    return model, (torch.randn(1, 3, 224, 224),)


def _torchvision(pattern: str) -> list[Job]:
    import torchvision

    names = [name for name in torchvision.models.list_models() if fnmatch.fnmatchcase(name, pattern)]
    return [Job(name, functools.partial(torchvision_model, name)) for name in names]


def _timm(pattern: str) -> list[Job]:
    try:
        import timm
    except ImportError:
        raise SourceError("timm:... sources need timm: pip install timm") from None
    return [Job(name, functools.partial(timm_model, name)) for name in timm.list_models(pattern)]


def timm_model(name: str) -> tuple[Any, Any]:
    """timm's ``name`` without weights, with an image of the size its configuration was trained at."""
    import timm
    import torch

    model = timm.create_model(name, pretrained=False)
    return model, torch.randn(1, *model.pretrained_cfg.get("input_size", (3, 224, 224)))


_REGISTRIES: dict[str, Callable[[str], list[Job]]] = {"torchvision": _torchvision, "timm": _timm}


def _from_callable(source: str) -> list[Job]:
    try:
        produced = resolve(source)()
    except SpecError as error:
        raise SourceError(str(error)) from None
    except Exception as error:
        raise SourceError(f"{source} raised {one_line(error)}") from error
    if not isinstance(produced, Iterable) or isinstance(produced, (str, nn.Module)):
        raise SourceError(
            f"{source} returned {type(produced).__name__}: expected SPECs or (name, builder) pairs"
        )
    jobs = []
    for item in produced:
        if isinstance(item, str):
            jobs.append(Job(item, item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and callable(item[1]):
            jobs.append(Job(*item))
        else:
            raise SourceError(f"{source} yielded {item!r}: expected a SPEC or a (name, builder) pair")
    return jobs


def jobs_from(sources: Iterable[str]) -> list[Job]:
    """Every job of ``sources``, in order, each name once (the first wins)."""
    jobs: dict[str, Job] = {}
    for source in sources:
        registry, _, pattern = source.partition(":")
        path = Path(source)
        if path.is_file() and path.suffix != ".py":
            found = _from_file(path)
        elif registry in _REGISTRIES and pattern and not Path(registry).exists():
            found = _REGISTRIES[registry](pattern)
        else:
            found = _from_callable(source)
        if not found:
            raise SourceError(f"{source} names no models")
        for job in found:
            jobs.setdefault(job.name, job)
    return list(jobs.values())
