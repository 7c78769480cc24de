"""Where a sweep's scenarios run: this process, local worker processes, or a Ray cluster.

``run_unordered(fn, items, ...)`` yields ``fn(item)`` for every item *as each finishes*, in
completion order; callers that need a fixed order sort by a key they put in the result.
The only module that imports ``ray`` (the optional ``ray`` extra), and only when asked.

* ``local`` with ``jobs=1`` runs in this process (no pickling, no start-up cost);
* ``local`` with ``jobs>1`` uses a ``concurrent.futures.ProcessPoolExecutor``;
* ``ray`` runs on the cluster at ``address``, or on a local Ray instance started for the call
  (``jobs`` CPUs) and shut down after it; an already initialised Ray session (``ray.init`` by
  the caller) is used as it is.

Worker processes and Ray get the items in tasks of a few each (``chunks``), and a finished
task's results are yielded together.

Stopping early (an exception in the consumer, Ctrl-C) cancels what has not started.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from planner.errors import InputError

EXECUTORS = ("local", "ray")
# A task costs a process pool or Ray a fraction of a millisecond to a few milliseconds, as much as
# planning one small scenario. Measured with bench/sweep.py on 2 cores: one scenario per task ran
# Ray at the rate of one process; tasks of up to 16 (still about 8 per CPU to balance the load)
# let 2 CPUs run 1.4x to 2x faster than one.
MAX_CHUNK = 16
TASKS_PER_CPU = 8


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_unordered(fn: Callable[[Any], Any], items: Iterable[Any], executor: str = "local", jobs: int | None = None,
                  address: str | None = None) -> Iterator[Any]:
    """``fn(item)`` for each item, yielded in completion order (``fn`` must be picklable)."""
    items = list(items)
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1 (got {jobs})")
    if executor == "local":
        if address:
            raise InputError("--address is for --executor ray")
        return _in_process(fn, items) if jobs == 1 else _processes(fn, items, jobs)
    if executor == "ray":
        return _ray(fn, items, jobs, address)
    raise InputError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")


def _in_process(fn, items) -> Iterator[Any]:
    for item in items:
        yield fn(item)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the parent alone stops the sweep (workers would only
    # print tracebacks), finishing the scenarios in flight and cancelling the rest.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _processes(fn, items, jobs) -> Iterator[Any]:
    pool = ProcessPoolExecutor(max_workers=min(jobs, max(1, len(items))), initializer=_ignore_interrupts)
    try:
        futures = [pool.submit(_call_chunk, fn, chunk) for chunk in chunks(items, jobs)]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _call_chunk(fn, chunk):
    return [fn(item) for item in chunk]


def chunks(items: list, jobs: int) -> list[list]:
    """Items in consecutive groups: at most ``MAX_CHUNK`` each, about ``TASKS_PER_CPU`` groups per CPU or more."""
    size = max(1, min(MAX_CHUNK, len(items) // (jobs * TASKS_PER_CPU)))
    return [items[i:i + size] for i in range(0, len(items), size)]


def _ray(fn, items, jobs, address) -> Iterator[Any]:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'rackplan[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
        started = True
    task = ray.remote(num_cpus=1)(_call_chunk)
    pending = []
    try:
        fn_ref = ray.put(fn)
        cpus = int(ray.available_resources().get("CPU", jobs)) or 1
        pending = [task.remote(fn_ref, chunk) for chunk in chunks(items, cpus)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield from ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref)
        if started:
            ray.shutdown()
