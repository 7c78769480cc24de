"""``rackplan`` as a user's terminal runs it: Ctrl-C (SIGINT) raises ``KeyboardInterrupt``.

The interruption tests send SIGINT to a real ``rackplan sweep``. A process inherits an ignored SIGINT
from its parent, and a test run started in the background without job control (``nohup ... &``, as a
CI wrapper may) has it ignored: the sweep would never see the test's signal and would finish the grid.
Run as ``python tests/rackplan_at_terminal.py sweep ...``: SIGINT gets Python's default handler back
before the command starts (its worker processes ignore it themselves, as they always do).
"""

import signal

from planner.cli.main import main

if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
