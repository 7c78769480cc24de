"""Exceptions raised by the planner library.

Library code raises these; the CLI turns any of them (and the catalogue errors of
``hardware`` and ``models``) into one line on stderr and exit code 1, in one place.
"""


class PlannerError(Exception):
    """Base class: a problem the user can fix, with a one-line message."""


class InputError(PlannerError):
    """A value given by the user is out of range or inconsistent."""


class InfeasibleError(PlannerError):
    """No plan in the declared search space meets the limits; the message says why, with numbers."""


class SolverError(PlannerError):
    """The MILP solver returned a status other than optimal."""


class VerificationError(PlannerError):
    """The solver's plan failed re-evaluation: a bug, never a warning."""
