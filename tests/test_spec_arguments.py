"""A SPEC may end in the builder's literal arguments: parsed, never evaluated."""

import json

import pytest
from cli_runner import run
from torchvision.models import ShuffleNet_V2_X0_5_Weights

from netprof.capture.loader import SpecError, resolve


def test_literal_arguments_are_bound_to_the_builder():
    builder = resolve("collections:namedtuple('Point', ['x', 'y'], defaults=(0, {'a': (1, 2)}))")
    point = builder()
    assert point._fields == ("x", "y") and point._field_defaults == {"x": 0, "y": {"a": (1, 2)}}


@pytest.mark.parametrize("argument", ["print('hi')", "x", "1 + 1", "lambda: 0", "[*range(3)]"])
def test_anything_but_a_literal_is_refused_before_the_builder_is_imported(argument):
    with pytest.raises(SpecError, match="is not a literal"):
        resolve(f"netprof_no_such_pkg:build(value={argument})")


def test_a_spec_with_arguments_builds_that_model(capsys):
    code, out, err = run(capsys, "analyze", "netprof.zoo:shufflenet_v2(scale=0.5)", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    # torchvision's metadata for ShuffleNet V2 0.5x: the same architecture, counted by its authors.
    assert report["totals"]["params"] == ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1.meta["num_params"]
    assert report["model"] == "netprof.zoo:shufflenet_v2(scale=0.5)"
