"""Detectors: their stages (backbone, neck, head, post-processing), found from the module tree."""

from netprof.detection.stages import STAGES, Stage, split

__all__ = ["STAGES", "Stage", "split"]
