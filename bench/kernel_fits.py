"""How well each kernel curve of the cost model fits its measured kernel table.

For every curve module in ``planner.calibration.kernel_fits.FITS`` (each owns one kind of kernel:
GEMM, attention, MoE, collectives), score the shipped curve parameters against the rows of its
tables in ``calibration/kernels/`` (needs the ``calibrate`` extra) and print one markdown row per
(table, system, engine): rows scored, MAPE, median absolute error, worst error, and the share of
rows the curve predicts faster than measured. ``--fit`` refits each curve first and prints the
parameters to store in ``planner/engine/data/kernels/*.toml``.

Usage::

    python bench/kernel_fits.py          # the table quoted in docs/accuracy.md
    python bench/kernel_fits.py --fit    # refit, print the parameters, then the table
    python bench/kernel_fits.py --moe-by-ep  # the MoE curve over measured, by expert-parallel size and tokens
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# bench/planner.py would shadow the planner package: drop this script's folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from planner.calibration import kernel_fits  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit every curve and print its parameters")
    parser.add_argument("--moe-by-ep", action="store_true",
                        help="print only the MoE curve over the measured latency by expert-parallel size and tokens")
    args = parser.parse_args(argv)
    if args.moe_by_ep:
        from planner.calibration.kernel_fits import moe

        print(moe.by_ep_markdown())
        return 0
    if args.fit:
        for name, module in kernel_fits.modules():
            print(f"# {name}: fitted parameters")
            print(module.fit_text())
    print(kernel_fits.table_markdown(kernel_fits.score_all()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
