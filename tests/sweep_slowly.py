"""``rackplan`` with every sweep scenario taking at least ``SCENARIO_S`` longer: a test's interruption lands mid-run.

The interruption tests signal a real ``rackplan sweep`` once some rows are on disk and expect it to stop
part-way. Scenarios now plan in ~20 ms, so on a loaded 2-core machine the whole grid could finish before
the test's polling process got the CPU to send the signal. Run as ``python tests/sweep_slowly.py sweep ...``;
workers fork from this process, so they run the slowed task too (the wrapper pickles under the task's name).
"""

import functools
import time

import planner.studies.sweep as sweep_module
from planner.cli.main import main

SCENARIO_S = 0.05
_task = sweep_module.sweep_task


@functools.wraps(_task)
def _slowed(item):
    time.sleep(SCENARIO_S)
    return _task(item)


sweep_module.sweep_task = _slowed

if __name__ == "__main__":
    main()
