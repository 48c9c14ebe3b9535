"""A finding's identity across runs: its model, its rule and its module path, never its numbers.

Baselines match on it, the JSON report prints it, SARIF hashes it into
``partialFingerprints`` and a ``Finding`` names itself by its part within one model;
one spelling keeps the four in step, and the golden files pin it.
"""

from __future__ import annotations

import hashlib


def finding_key(rule: str, module: str) -> str:
    """``"G1:layer1.0"``: a finding's identity within one model (``Finding.fingerprint``)."""
    return f"{rule}:{module}"


def fingerprint(model: str, rule: str, module: str) -> str:
    """``"net.py:build::G1:layer1.0"``: what a baseline stores and matches."""
    return f"{model}::{finding_key(rule, module)}"


def hashed_fingerprint(model: str, rule: str, module: str) -> str:
    """The fingerprint as a SHA-256 hex digest, the opaque form code scanning expects."""
    return hashlib.sha256(fingerprint(model, rule, module).encode()).hexdigest()
