"""The one roofline (netprof.roofline), by hand."""

from __future__ import annotations

import pytest

from netprof.roofline import Roofline

# 100 GFLOP/s and 20 GB/s: the ridge is 100e9 / 20e9 = 5 FLOP per byte.
ROOF = Roofline(peak_flops=100e9, bandwidth=20e9)


def test_ridge_and_attainable_rate():
    assert ROOF.ridge == pytest.approx(5.0)
    assert ROOF.attainable(2.0) == pytest.approx(40e9)  # 2 FLOP/B * 20 GB/s, under the ridge
    assert ROOF.attainable(5.0) == pytest.approx(100e9)  # at the ridge both terms meet
    assert ROOF.attainable(50.0) == pytest.approx(100e9)  # above it: the peak


def test_place_an_op():
    # 1e9 flops / 100e9 = 10 ms of arithmetic; 1e8 bytes / 20e9 = 5 ms of traffic: compute-bound, 10 ms
    assert ROOF.place(1e9, 1e8) == ("compute", pytest.approx(0.010))
    # 1e8 flops: 1 ms; 1e9 bytes: 50 ms: memory-bound, 50 ms
    assert ROOF.place(1e8, 1e9) == ("memory", pytest.approx(0.050))
    # 5e8 flops and 1e8 bytes sit on the ridge: 5 ms each, a tie counts as compute
    assert ROOF.place(5e8, 1e8) == ("compute", pytest.approx(0.005))
    # a view: no arithmetic, no traffic
    assert ROOF.place(0, 0) == (None, 0.0)


def test_describe():
    assert Roofline(989e12, 4.8e12).describe() == "roofline: 989 TFLOP/s, 4800 GB/s"
