"""Sweeps: many models, one row each, on local worker processes or on a Ray cluster."""
