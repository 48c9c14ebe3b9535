"""Language-model serving: the prompt pass and the token-by-token decode, counted and predicted."""

from netprof.serving.phases import GenerationAnalysis, Phase, StepCost, analyze_generation
from netprof.serving.predict import Roofline, ServingPrediction, predict_generation

__all__ = [
    "GenerationAnalysis",
    "Phase",
    "Roofline",
    "ServingPrediction",
    "StepCost",
    "analyze_generation",
    "predict_generation",
]
