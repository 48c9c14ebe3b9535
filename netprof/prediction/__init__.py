"""A model's latency on a device without running it: device profiles and the prediction they make.

``profile`` is the fitted, versioned document ``netprof calibrate`` writes;
``predict`` prices an analysis with it; ``kinds`` names the op kinds a profile
fits; ``fit`` is the non-negative least squares both use.
"""

from netprof.prediction.kinds import Kind, kind_of
from netprof.prediction.predict import MissingInt8Kinds, OpPrediction, Prediction, predict
from netprof.prediction.profile import DeviceProfile, KindModel, ProfileError

__all__ = [
    "DeviceProfile",
    "Kind",
    "KindModel",
    "MissingInt8Kinds",
    "OpPrediction",
    "Prediction",
    "ProfileError",
    "kind_of",
    "predict",
]
