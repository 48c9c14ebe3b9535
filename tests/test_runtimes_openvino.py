"""OpenVINO's per-node counters as netprof reads them, without OpenVINO: a fake infer request."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from netprof.runtimes.openvino import TRUNCATION_S, OpenVino


class _Request:
    """An infer request whose counters say what OpenVINO's CPU plugin says: whole microseconds."""

    def infer(self, feeds):
        return {}

    def get_profiling_info(self):
        def info(name, microseconds, status="EXECUTED"):
            status = SimpleNamespace(name=status)
            return SimpleNamespace(
                status=status,
                node_name=name,
                real_time=timedelta(microseconds=microseconds),
                node_type="Convolution",
                exec_type="brgconv_avx512_amx_1x1_bf16",
            )

        return [info("conv", 41), info("reorder", 0), info("folded", 0, "OPTIMIZED_OUT")]


def test_each_kernel_gets_back_the_half_microsecond_its_truncated_count_loses_on_average():
    backend = OpenVino.__new__(OpenVino)  # no compiled model: only the profiled request is read
    backend.profiled, backend.feeds, backend._times, backend._executed = _Request(), [], [], {}
    backend.profiled_run()
    assert TRUNCATION_S == 0.5e-6
    assert backend.kernel_times() == [{"conv": pytest.approx(41.5e-6), "reorder": pytest.approx(0.5e-6)}]
