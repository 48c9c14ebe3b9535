"""The package's shape: no import cycles, and nothing inside it imports the public API.

The layers themselves (capture -> costs -> analysis -> ... -> cli) are an import-linter
contract in pyproject.toml, checked by ``lint-imports`` in .ci/run; this checks what a
layers contract cannot see: cycles between modules of one layer.
"""

import grimp
import pytest


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("netprof", exclude_type_checking_imports=True)


def cycles(graph) -> list[str]:
    """Every direct import ``a -> b`` where ``b`` leads back to ``a``."""
    return [
        f"{module} -> {target}"
        for module in sorted(graph.modules)
        for target in sorted(graph.find_modules_directly_imported_by(module))
        if graph.chain_exists(importer=target, imported=module)
    ]


def test_no_module_imports_itself_back(graph):
    assert cycles(graph) == []


def test_the_public_api_is_imported_by_no_module_of_the_package(graph):
    # netprof/__init__.py imports the pipeline; a module below it importing `netprof` would climb the layers.
    assert graph.find_modules_that_directly_import("netprof") == set()


def test_a_cycle_through_a_third_module_is_found():
    # The check above on a graph with a known cycle a -> b -> c -> a, and a harmless d -> a.
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")):
        graph.add_import(importer=importer, imported=imported)
    assert cycles(graph) == ["a -> b", "b -> c", "c -> a"]


def test_every_module_of_the_package_is_in_a_layer():
    # A module left out of the contract in pyproject.toml could import anything.
    from pathlib import Path

    import tomllib

    root = Path(__file__).parents[1]
    contract = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    children = {
        f"netprof.{path.stem if path.is_file() else path.name}"
        for path in (root / "netprof").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert children - layered == set()
