"""Tables 1-4 of ShuffleNet V2 (Ma et al. 2018): which network each cell is, and the paper's speeds.

The paper's CPU ("ARM") numbers are images/sec on a Snapdragon 810, single thread; its GPU numbers are
batches/sec on a GTX 1080Ti, batch size not stated. The networks built here use the paper's CPU
channel counts (the GPU columns of Tables 1-3 used wider networks; their widths are kept in
``Experiment.paper_gpu_note``). Choices the paper leaves open are in ``netprof.bench.networks``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from netprof.bench.networks import BUILDERS, fragment_width, grouped_width
from netprof.bench.trend import TrendRule

Argument = tuple[str, int]  # a builder keyword and its value (bools are ints)


@dataclass(frozen=True)
class Config:
    """One cell of a paper table: a network to build and the paper's speeds for it."""

    row: str
    column: str
    channels: str  # the widths, as the table would print them
    builder: str  # a name in ``netprof.bench.networks.BUILDERS``
    arguments: tuple[Argument, ...]
    in_channels: int
    paper_gpu: float
    paper_arm: float

    def build(self) -> nn.Module:
        return BUILDERS[self.builder](**dict(self.arguments)).eval()

    @property
    def call(self) -> str:
        return f"{self.builder}({', '.join(f'{k}={v}' for k, v in self.arguments)})"


@dataclass(frozen=True)
class Experiment:
    table: int
    guideline: str
    title: str
    varied: str  # what changes from row to row
    rows: tuple[str, ...]
    short_rows: tuple[str, ...]  # labels in the terminal table and the chart
    columns: tuple[str, ...]
    configs: tuple[Config, ...]  # row-major
    rule: TrendRule
    paper_gpu_note: str
    choices: tuple[str, ...]

    def config(self, row: str, column: str) -> Config:
        for config in self.configs:
            if config.row == row and config.column == column:
                return config
        raise KeyError((row, column))


MULTIPLIERS = ((1, "x1"), (2, "x2"), (4, "x4"))

# Table 1: (c1, c2) at x1 on CPU, GPU (c1, c2) at x1, GPU x1/x2/x4 batches/sec, ARM x1/x2/x4 images/sec.
_TABLE1 = (
    ("1:1", (32, 32), (128, 128), (1480, 723, 232), (76.2, 21.7, 5.3)),
    ("1:2", (22, 44), (90, 180), (1296, 586, 206), (72.9, 20.5, 5.1)),
    ("1:6", (13, 78), (52, 312), (876, 489, 189), (69.1, 17.9, 4.6)),
    ("1:12", (9, 108), (36, 432), (748, 392, 163), (57.6, 15.1, 4.4)),
)
# Table 2: g, CPU c at x1, GPU c at x1, GPU x1/x2/x4, CPU x1/x2/x4.
_TABLE2 = (
    (1, 64, 128, (2451, 1289, 437), (40.0, 10.2, 2.3)),
    (2, 90, 180, (1725, 873, 341), (35.0, 9.5, 2.2)),
    (4, 128, 256, (1026, 644, 338), (32.9, 8.7, 2.1)),
    (8, 180, 360, (634, 445, 230), (27.8, 7.5, 1.8)),
)
# Table 3: block, fragments, parallel, GPU c=128/256/512, CPU c=64/128/256.
_TABLE3 = (
    ("1-fragment", "1 fragment", 1, False, (2446, 1274, 434), (40.2, 10.1, 2.3)),
    ("2-fragment-series", "2 series", 2, False, (1790, 909, 336), (38.6, 10.1, 2.2)),
    ("4-fragment-series", "4 series", 4, False, (752, 745, 349), (38.4, 10.1, 2.3)),
    ("2-fragment-parallel", "2 parallel", 2, True, (1537, 803, 320), (33.4, 9.1, 2.2)),
    ("4-fragment-parallel", "4 parallel", 4, True, (691, 572, 292), (35.0, 8.4, 2.1)),
)
_TABLE3_CPU_C = (64, 128, 256)
# Table 4: ReLU, shortcut, GPU c=32/64/128, CPU c=32/64/128.
_TABLE4 = (
    (True, True, (2427, 2066, 1436), (56.7, 16.9, 5.0)),
    (True, False, (2647, 2256, 1735), (61.9, 18.8, 5.2)),
    (False, True, (2672, 2121, 1458), (57.3, 18.2, 5.1)),
    (False, False, (2842, 2376, 1782), (66.3, 20.2, 5.4)),
)
_TABLE4_C = (32, 64, 128)


_TABLE4_ROWS = {
    (True, True): "ReLU+shortcut",
    (True, False): "ReLU only",
    (False, True): "shortcut only",
    (False, False): "neither",
}


def table1() -> Experiment:
    configs = []
    for row, (c1, c2), _, gpu, arm in _TABLE1:
        for j, (m, column) in enumerate(MULTIPLIERS):
            a, b = c1 * m, c2 * m
            configs.append(
                Config(row, column, f"({a},{b})", "g1_network", (("c1", a), ("c2", b)), a, gpu[j], arm[j])
            )
    gpu_pairs = ", ".join(f"({a},{b})" for _, _, (a, b), _, _ in _TABLE1)
    return Experiment(
        table=1,
        guideline="G1",
        title="Equal channel width minimizes memory access cost",
        varied="c1:c2 at equal mult_adds",
        rows=tuple(r[0] for r in _TABLE1),
        short_rows=tuple(r[0] for r in _TABLE1),
        columns=tuple(c for _, c in MULTIPLIERS),
        configs=tuple(configs),
        rule=TrendRule("1:1", "1:12", "speed falls as c1:c2 departs from 1:1"),
        paper_gpu_note=f"paper GPU widths at x1: {gpu_pairs}",
        choices=(
            "block: conv1x1 c1->c2, conv1x1 c2->c1; the paper's CPU pairs times x1/x2/x4",
            "the paper's rounded pairs are not exactly equal in mult_adds: (22,44) is 5.5% below (32,32)",
        ),
    )


def table2() -> Experiment:
    configs = []
    for g, c, _, gpu, arm in _TABLE2:
        for j, (m, column) in enumerate(MULTIPLIERS):
            width = grouped_width(c * m, g, reference=_TABLE2[0][1] * m)
            label = f"c={width}" + ("" if width == c * m else "*")
            configs.append(
                Config(
                    f"g={g}",
                    column,
                    label,
                    "g2_network",
                    (("channels", width), ("groups", g)),
                    width,
                    gpu[j],
                    arm[j],
                )
            )
    gpu_widths = ", ".join(f"g={g}: c={c}" for g, _, c, _, _ in _TABLE2)
    return Experiment(
        table=2,
        guideline="G2",
        title="Excessive group convolution increases MAC",
        varied="groups g at equal mult_adds",
        rows=tuple(f"g={r[0]}" for r in _TABLE2),
        short_rows=tuple(f"g={r[0]}" for r in _TABLE2),
        columns=tuple(c for _, c in MULTIPLIERS),
        configs=tuple(configs),
        rule=TrendRule("g=1", "g=8", "speed falls as the group count grows"),
        paper_gpu_note=f"paper GPU widths at x1: {gpu_widths}",
        choices=(
            "10 pointwise group convs c->c; the paper's CPU c times x1/x2/x4",
            (
                "c=184* (g=8 at x1): the paper's c=180 is not divisible by 8; 184 is the multiple of 8 closest in "
                "mult_adds to g=1 (+3.3%; 176 would be -5.5%)"
            ),
        ),
    )


def table3() -> Experiment:
    configs = []
    for row, _, n, parallel, gpu, arm in _TABLE3:
        for j, c in enumerate(_TABLE3_CPU_C):
            width = fragment_width(c, n)
            label = f"c={c}" if n == 1 else f"{n} x {width}"
            configs.append(
                Config(
                    row,
                    f"c={c}",
                    label,
                    "g3_network",
                    (("width", width), ("fragments", n), ("parallel", parallel)),
                    width,
                    gpu[j],
                    arm[j],
                )
            )
    return Experiment(
        table=3,
        guideline="G3",
        title="Network fragmentation reduces the degree of parallelism",
        varied="fragments per block at equal mult_adds",
        rows=tuple(r[0] for r in _TABLE3),
        short_rows=tuple(r[1] for r in _TABLE3),
        columns=tuple(f"c={c}" for c in _TABLE3_CPU_C),
        configs=tuple(configs),
        rule=TrendRule("1-fragment", "4-fragment-parallel", "fragmented blocks are slower"),
        paper_gpu_note="paper GPU widths: c=128/256/512",
        choices=(
            (
                "n fragments of width round(c/sqrt(n)) keep mult_adds equal to one conv1x1 of c "
                "(the paper gives no widths); the whole network runs at that width"
            ),
            "parallel: every branch reads the block input, branches summed with n-1 element-wise adds",
        ),
    )


def table4() -> Experiment:
    configs = []
    rows = []
    for relu, shortcut, gpu, arm in _TABLE4:
        row = _TABLE4_ROWS[(relu, shortcut)]
        rows.append(row)
        for j, c in enumerate(_TABLE4_C):
            configs.append(
                Config(
                    row,
                    f"c={c}",
                    f"{c}->{c // 4}->{c // 4}->{c}",
                    "g4_network",
                    (("channels", c), ("relu", relu), ("shortcut", shortcut)),
                    c,
                    gpu[j],
                    arm[j],
                )
            )
    return Experiment(
        table=4,
        guideline="G4",
        title="Element-wise operations are non-negligible",
        varied="ReLU and shortcut removed",
        rows=tuple(rows),
        short_rows=tuple(rows),
        columns=tuple(f"c={c}" for c in _TABLE4_C),
        configs=tuple(configs),
        rule=TrendRule(rows[-1], rows[0], "removing ReLU and shortcut makes the block faster"),
        paper_gpu_note="paper GPU widths: the same c=32/64/128",
        choices=(
            (
                "ResNet bottleneck 1x1 -> 3x3 -> 1x1 at c -> c/4 -> c/4 -> c (c is the block's input and "
                "output width; the paper does not say), ReLU after the first two convs and after the add"
            ),
        ),
    )


def experiments() -> tuple[Experiment, ...]:
    return (table1(), table2(), table3(), table4())
