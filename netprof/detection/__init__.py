"""Detectors: their stages (backbone, neck, head, post-processing), found from the module tree or set by
module path (``[tool.netprof.stages]``)."""

from netprof.detection.stages import STAGES, Stage, StageError, StageModules, op_stages, override_notes, split

__all__ = ["STAGES", "Stage", "StageError", "StageModules", "op_stages", "override_notes", "split"]
