"""bench/mutation.py's own rules: what it samples, which tests it selects, and that it
works on a copy.  (Its figures are in bench/README.md; nothing here is timed.)"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_bench", ROOT / "bench" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


mb = _load()


def _item(module: str, line: int, operator: str = "core/AddNot", occurrence: int = 0) -> object:
    spec = SimpleNamespace(
        module_path=module, start_pos=(line, 0), operator_name=operator, occurrence=occurrence
    )
    return SimpleNamespace(mutations=[spec], job_id=f"{module}:{line}:{occurrence}")


def test_annotations_are_positions_never_evaluated() -> None:
    source = "def f(x: int | None, *, y: 'A | B' = 1) -> list[int] | None:\n    return x | y\n"
    spans = mb.annotation_lines(source)
    assert (1, source.index("int | None") + 4) in spans  # the | of the annotation
    assert (2, source.splitlines()[1].index("|")) not in spans  # a real BitOr


def test_scope_keeps_only_the_named_top_level_definitions() -> None:
    source = "def a():\n    return 1\n\n@dec\ndef b():\n    return 2\n\nX = 3\n"
    assert mb.scoped_lines(source, ["b"]) == {4, 5, 6}
    assert mb.scoped_lines(source, ["a"]) == {1, 2}


def test_sample_is_even_per_module_reproducible_and_complete_when_small() -> None:
    items = [_item("m/big.py", n) for n in range(100)] + [_item("m/small.py", n) for n in range(3)]
    sample = mb.stratified_sample(items, 10, seed=1)
    by_module = [str(i.mutations[0].module_path) for i in sample]
    assert by_module.count("m/small.py") == 3  # all it has; the rest goes to big
    assert by_module.count("m/big.py") == 7
    assert sample == mb.stratified_sample(items, 10, seed=1)
    assert sample != mb.stratified_sample(items, 10, seed=2)
    assert len(mb.stratified_sample(items, None, seed=1)) == len(items)


def test_scope_is_the_current_files_of_the_issues_modules() -> None:
    # The issue names _retry.py; its code now lives in five files (ab55ceb): each is
    # mutated, and they are one stratum, so the split changes neither the sample's weights
    # nor the table's rows.  A file moved again fails here rather than drop out silently.
    for module in mb.MODULES:
        assert (ROOT / module).is_file(), module
    for module, names in mb.SCOPE.items():
        tree = ast.parse((ROOT / module).read_text())
        tops = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        assert set(names) <= tops, (module, set(names) - tops)
    parts = [m for m in mb.MODULES if mb.stratum(m) == "cleanup/_retry.py"]
    assert sorted(parts) == sorted(
        f"cleanup/{p}.py" for p in ("_schedule", "_policy", "_policy_file", "_events", "_retry")
    )
    # plan, images, retry, classify, repo, run, resolver, dnsrules: the issue's eight
    assert len({mb.stratum(m) for m in mb.MODULES}) == 8


def test_the_parts_of_one_module_share_its_quota() -> None:
    items = [_item("cleanup/_schedule.py", n) for n in range(50)]
    items += [_item("cleanup/_events.py", n) for n in range(50)]
    items += [_item("cleanup/_plan.py", n) for n in range(50)]
    sample = mb.stratified_sample(items, 10, seed=11)
    strata = [mb.stratum(str(i.mutations[0].module_path)) for i in sample]
    assert strata.count("cleanup/_retry.py") == 5
    assert strata.count("cleanup/_plan.py") == 5


def test_the_table_has_a_row_for_each_part_and_one_for_their_module() -> None:
    def result(module: str, outcome: str) -> object:
        r = mb.MutantResult("id", module, 1, 1, "core/AddNot", 0, "f", "")
        r.props = mb.Verdict(outcome, 1 if outcome == "killed" else 0, 1.0)
        return r

    table = mb.summary_table(
        [
            result("cleanup/_schedule.py", "killed"),
            result("cleanup/_retry.py", "survived"),
            result("cleanup/_plan.py", "killed"),
        ]
    )
    assert "| `cleanup/_retry.py (all parts)` | 2 | 1/2 | 50% |" in table
    assert "| `cleanup/_retry.py` | 1 | 0/1 | 0% |" in table
    assert "| **all** | 3 | 2/3 | 67% |" in table


def test_coverage_contexts_become_node_ids_and_import_time_becomes_every_test() -> None:
    files = {"tests/cleanup/test_plan.py", "tests/sim/test_properties.py"}
    contexts = ["tests.cleanup.test_plan.TestX.test_y", "", "tests.cleanup.test_plan.test_z"]
    assert mb._tests_of(contexts, files) == [
        mb.AT_IMPORT,
        "tests/cleanup/test_plan.py::TestX::test_y",
        "tests/cleanup/test_plan.py::test_z",
    ]
    assert mb._node_id("tests.unknown.test_q", files) is None


def test_selection_splits_the_property_suite_from_the_rest() -> None:
    props = "tests/sim/test_properties.py::test_safety"
    unit = "tests/cleanup/test_plan.py::test_z"
    cov = {"cleanup/_plan.py": {"10": [props, unit], "11": [unit], "12": [mb.AT_IMPORT, unit]}}
    assert mb.select_tests(cov, "cleanup/_plan.py", range(10, 11)) == [unit]
    assert mb.select_tests(cov, "cleanup/_plan.py", range(10, 11), props=True) == [props]
    assert mb.select_tests(cov, "cleanup/_plan.py", range(11, 12), props=True) == []
    assert mb.select_tests(cov, "cleanup/_plan.py", range(12, 13)) is None  # run them all
    # --named-only: the tests the map names for that line, without the rest of the suite
    assert mb.select_tests(cov, "cleanup/_plan.py", range(12, 13), named_only=True) == [unit]
    assert mb.select_tests(cov, "cleanup/_other.py", range(1, 2)) == []


def test_a_mutant_is_applied_to_the_copy_and_undone_there(tmp_path: Path) -> None:
    pytest.importorskip("cosmic_ray")
    copy = tmp_path / "repo"
    (copy / "cleanup").mkdir(parents=True)
    (copy / "cleanup" / "m.py").write_text("def f(a, b):\n    return a + b\n")
    items = mb.enumerate_mutants(copy, ["cleanup/m.py"], tmp_path / "s.sqlite")
    assert items, "cosmic-ray found no mutant in a + b"
    spec = items[0].mutations[0]
    assert spec.module_path.as_posix() == "cleanup/m.py"
    original = (copy / "cleanup" / "m.py").read_text()
    mutated = mb.mutate(original, spec)
    assert mutated is not None and mutated != original
    assert (copy / "cleanup" / "m.py").read_text() == original  # mutate() is pure
