"""Unit conversions: each helper is one scale, named for what it returns."""

from planner import units


def test_conversions():
    assert units.gb(141e9) == 141.0                 # H200 HBM, decimal GB
    assert units.mb(2.5e6) == 2.5
    assert units.tb(4.8e12) == 4.8                  # H200 HBM bandwidth, TB/s
    assert units.tflops(989e12) == 989.0            # H100 dense BF16 peak
    assert units.billions(70.6e9) == 70.6
    assert units.kw(1200.0) == 1.2
    assert units.ms(0.0125) == 12.5
    assert units.us(3e-6) == 3.0
    assert units.from_ms(50.0) == 0.05


def test_profile_microseconds_are_the_same_double_as_before():
    # Engine profiles used to multiply by 1e-6; from_us keeps that exact operation.
    for value in (0.0, 2.7, 3.0, 41.3, 1500.0):
        assert units.from_us(value) == value * 1e-6


def test_helpers_carry_their_names_and_docs():
    assert units.gb.__name__ == "gb" and "gigabytes" in units.gb.__doc__
    assert units.from_us.__name__ == "from_us"
