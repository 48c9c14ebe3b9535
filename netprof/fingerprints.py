"""A finding's identity across runs: its model, its rule and its module path, never its numbers.

Baselines match on it, the JSON report prints it and SARIF hashes it into
``partialFingerprints``; one spelling keeps the three in step, and the golden
files pin it.
"""

from __future__ import annotations

import hashlib


def fingerprint(model: str, rule: str, module: str) -> str:
    """``"net.py:build::G1:layer1.0"``: what a baseline stores and matches."""
    return f"{model}::{rule}:{module}"


def hashed_fingerprint(model: str, rule: str, module: str) -> str:
    """The fingerprint as a SHA-256 hex digest, the opaque form code scanning expects."""
    return hashlib.sha256(fingerprint(model, rule, module).encode()).hexdigest()
