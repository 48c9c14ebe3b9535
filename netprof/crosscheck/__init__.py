"""Run fvcore's ``FlopCountAnalysis`` on the same model and explain every difference.

fvcore counts one "flop" per multiply-add, the unit of netprof's ``mult_adds``, so
the two agree wherever both count the same ops. They part where fvcore's jit trace
sees something netprof's ATen capture sees differently; each row of a
``Crosscheck`` is one op family, with both counts and the reason, worked out from
what fvcore actually reported on this model (its per-operator and per-module
counts, its unsupported ops), never assumed:

* fvcore counts normalization, adaptive average pooling and resampling, which
  netprof's ``mult_adds`` leave out (its ``flops`` count them);
* fvcore has no handle for ``aten::scaled_dot_product_attention`` and none for the
  no-grad fast paths of ``nn.MultiheadAttention`` (``_native_multi_head_attention``)
  and ``nn.TransformerEncoderLayer``, so it counts 0 for them;
* element-wise ops are skipped or reported as unsupported, counting 0 on both sides.

Ops inside a module whose whole forward fvcore saw as one fused op are credited
to that fused op's row, whatever netprof saw them as, so a difference is never
spread over the wrong families.

fvcore runs the real model once, in eval mode and under ``torch.no_grad()``, as
its users run it. The model is left as it was: training flags are restored, and
the scope hooks fvcore adds are removed even when its trace raises (fvcore itself
leaves them on the model then). Its log warnings and the tracer's warnings are
captured and reported as counts, never printed.

``fvcore_run`` runs fvcore, ``families`` sorts both counters' ops into rows,
``explanations`` words the reasons and ``against`` builds the ``Crosscheck``.
"""

from __future__ import annotations

from netprof.crosscheck.against import against_fvcore
from netprof.crosscheck.families import (
    ATTENTION,
    CONV,
    ELEMENTWISE,
    FAMILIES,
    FUSED,
    MATMUL,
    MULT_ADD_FAMILIES,
    NORMALIZATION,
    OTHER,
    POOLING,
    RESAMPLE,
)
from netprof.crosscheck.result import Crosscheck, CrosscheckRow, relative_difference

__all__ = [
    "ATTENTION",
    "CONV",
    "ELEMENTWISE",
    "FAMILIES",
    "FUSED",
    "MATMUL",
    "MULT_ADD_FAMILIES",
    "NORMALIZATION",
    "OTHER",
    "POOLING",
    "RESAMPLE",
    "Crosscheck",
    "CrosscheckRow",
    "against_fvcore",
    "relative_difference",
]
