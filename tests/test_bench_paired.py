"""Paired runs of two checkouts' benches (``bench/paired.py``) and the evaluator's ``--against`` reading of them."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# bench/evaluator.py pins these to one thread when it loads: each is put back as it was after the import.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _load(name: str):
    """bench/NAME.py as a module, its folder on sys.path while it loads (as when run as a script)."""
    before = {var: os.environ.get(var) for var in THREAD_VARIABLES}
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
        for var, value in before.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return module


@pytest.fixture(scope="module")
def paired():
    return _load("paired")


def test_summary_gives_medians_and_the_pairs_ratios(paired):
    runs = [({"x": 2.0}, {"x": 1.0}), ({"x": 3.0}, {"x": 2.0}), ({"x": 4.0}, {"x": 5.0})]
    # first tree: median of 2, 3, 4 = 3; second: of 1, 2, 5 = 2; ratios 2/1 = 2.0, 3/2 = 1.5, 4/5 = 0.8:
    # median 1.5 (not 3 / 2 by coincidence: the medians' ratio and the ratios' median differ in general),
    # lowest 0.8, highest 2.0
    assert paired.summary(runs) == {"x": (3.0, 2.0, 1.5, 0.8, 2.0)}


def test_summary_names_a_figure_the_second_tree_lacks(paired):
    with pytest.raises(paired.PairedRunError, match="no 'moe decode' figure"):
        paired.summary([({"moe decode": 1.0}, {"dense decode": 1.0})])


def test_alternate_takes_the_trees_in_turn(paired):
    order = []

    def run(tree: Path) -> dict:
        order.append(tree.name)
        return {"n": float(len(order))}

    runs = paired.alternate(run, (Path("a"), Path("b")), 2)
    assert order == ["a", "b", "a", "b"]
    assert runs == [({"n": 1.0}, {"n": 2.0}), ({"n": 3.0}, {"n": 4.0})]


def test_a_run_has_its_tree_first_on_the_path(paired, tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "show.py").write_text("import os, sys\nprint(os.environ['PYTHONPATH'].split(os.pathsep)[0])\n"
                                                "print(sys.argv[1:])\n")
    assert paired.whole_run(tmp_path, "bench/show.py", ["--rows", "5"]).splitlines() == [str(tmp_path),
                                                                                         "['--rows', '5']"]


def test_a_failed_run_is_one_line_with_its_status_and_last_message(paired, tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "fail.py").write_text("import sys\nprint('early', file=sys.stderr)\n"
                                                "sys.exit('no such model')\n")
    with pytest.raises(paired.PairedRunError, match=r"fail\.py exited with status 1: no such model$"):
        paired.whole_run(tmp_path, "bench/fail.py", [])


def test_a_tree_without_the_script_is_named(paired, tmp_path):
    with pytest.raises(paired.PairedRunError, match=f"{tmp_path} has no bench/evaluator.py: give the root"):
        paired.script_of(tmp_path, "bench/evaluator.py")


def test_the_evaluator_reads_its_own_lines_and_older_versions():
    evaluator = _load("evaluator")
    # Two lines as docs/cost-model.md quotes them (this script's output on an AMD EPYC, the format since the
    # isl/osl column came in), with the machine and header lines that carry no rate around them.
    text = """machine: AMD EPYC (2 CPUs, x86_64), Linux, Python 3.11.7
evaluator: 250,000 decode rows (tokens_cached 8192), one process, 1 BLAS thread, best CPU time of 3
  dense llama-3.1-70b    on hgx-h200          4,399,302 plans/s  (meets the 3,000,000 goal); isl 4096/osl 1024    1,812,983 plans/s, 2.4x slower (meets the 3x goal)
  moe   qwen3-235b-a22b  on gb200-nvl72       2,790,192 plans/s  (meets the 2,000,000 goal); isl 4096/osl 1024      978,614 plans/s, 2.9x slower (meets the 3x goal)
"""  # noqa: E501
    assert evaluator.rates_printed(text) == {"dense decode": 4_399_302.0, "dense isl/osl": 1_812_983.0,
                                             "moe decode": 2_790_192.0, "moe isl/osl": 978_614.0}
    assert evaluator.rates_printed("machine: x\n") == {}
