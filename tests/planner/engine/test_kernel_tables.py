"""The one rule for which fitted kernel-curve entries a profile on a GPU takes."""

from planner.engine.kernels import tables

# Two measured engines: a on GPUs x and y, b on x only; entries carry one parameter, v.
TABLE = {"a": {"x": {"v": 1.0}, "y": {"v": 3.0}}, "b": {"x": {"v": 5.0}}}
ENGINES = ("a", "b")


def test_own_entry_then_the_engines_on_that_gpu_then_transferred():
    # a on x: its own entry, measured.
    assert tables.pool(TABLE, "a", "x", engines=ENGINES) == ([{"v": 1.0}], True)
    # default on x: both engines' entries there, median (1 + 5) / 2 = 3.
    entries, measured = tables.pool(TABLE, "default", "x", engines=ENGINES)
    assert measured and tables.median(entries, ["v"]) == {"v": 3.0}
    # b on y (b never measured y): the engines on y, i.e. a's 3.0, still measured.
    assert tables.pool(TABLE, "b", "y", engines=ENGINES) == ([{"v": 3.0}], True)
    # a on an unmeasured GPU: transferred from a's own GPUs, median of 1 and 3 = 2.
    entries, measured = tables.pool(TABLE, "a", "mi355x", engines=ENGINES)
    assert not measured and tables.median(entries, ["v"]) == {"v": 2.0}
    # default on an unmeasured GPU: every engine's entries, median of 1, 3, 5 = 3.
    entries, measured = tables.pool(TABLE, "default", "mi355x", engines=ENGINES)
    assert not measured and tables.median(entries, ["v"]) == {"v": 3.0}


def test_an_entry_the_filter_rejects_is_skipped_like_a_missing_one():
    # Only b's entry has w: a on x falls to the engines on x that have it.
    table = {"a": {"x": {"v": 1.0}}, "b": {"x": {"w": 7.0}}}
    assert tables.pool(table, "a", "x", has=lambda e: "w" in e, engines=ENGINES) == ([{"w": 7.0}], True)
    assert tables.pool(table, "a", "x", has=lambda e: "z" in e, engines=ENGINES) == ([], False)


def test_the_middle_is_numpys_median_to_the_bit():
    # tables.middle stands in for np.median(values, axis=0) (which imports numpy.ma): same bits for odd and
    # even counts, scalars and vectors, and NaN wherever a column holds one. 0.1 + 0.2 halved is
    # 0.15000000000000002 in binary floating point, the same on both sides.
    import numpy as np

    rng = np.random.default_rng(7)
    for values in ([0.1, 0.2], [0.1, 0.2, 0.7], [5.0], rng.random((6, 4)), rng.random((7, 3)) * 1e3):
        assert np.array_equal(tables.middle(values), np.median(np.asarray(values), axis=0))
    assert float(tables.middle([0.1, 0.2])) == 0.15000000000000002
    with_nan = [[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0]]
    assert np.array_equal(tables.middle(with_nan), np.median(with_nan, axis=0), equal_nan=True)
    assert np.isnan(tables.middle(with_nan)[0]) and tables.middle(with_nan)[1] == 3.0
