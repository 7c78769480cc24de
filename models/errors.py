"""Exceptions raised by the ``models`` package.

``models`` imports nothing from ``planner``, so it has its own base class; the CLI catches it
alongside ``PlannerError`` and prints the message as one line.
"""


class ModelError(Exception):
    """A model config or catalogue name the user can fix.

    The message is one line that names the file (or the name looked up), the field, and the
    fix, e.g. ``"cfg.json: missing required key 'hidden_size'; add it (an integer > 0)"``.
    """
