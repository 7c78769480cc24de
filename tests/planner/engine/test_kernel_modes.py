import numpy as np

from planner.engine.kernels import modes


def test_at_modes_takes_every_constant_at_each_rows_mode():
    # A (3 constants, 4 modes) stack; rows of modes 2, 0, 2, 3 take columns 2, 0, 2, 3 of each constant.
    stack = np.arange(12.0).reshape(3, 4)  # constant i, mode j: 4 i + j
    mode = np.array([2, 0, 2, 3])
    got = modes.at_modes(stack, mode)
    assert [list(g) for g in got] == [[2.0, 0.0, 2.0, 3.0], [6.0, 4.0, 6.0, 7.0], [10.0, 8.0, 10.0, 11.0]]
    for g, row in zip(got, stack):  # the same values as one take per constant
        assert np.array_equal(g, np.take(row, mode))


def test_at_modes_gives_scalars_when_every_row_has_one_mode():
    stack = np.arange(12.0).reshape(3, 4)
    got = modes.at_modes(stack, np.full(5, 1))
    assert got == [1.0, 5.0, 9.0] and all(type(g) is float for g in got)


def test_stacked_is_made_once_per_curve_object():
    class Curve:  # a stand-in for a curve record: kept by identity, not by value
        pass

    made = []

    def make():
        made.append(1)
        return np.zeros((2, 3))

    a, b = Curve(), Curve()
    first = modes.stacked(a, make)
    assert modes.stacked(a, make) is first and len(made) == 1
    modes.stacked(b, make)
    assert len(made) == 2
