"""``--mode training`` on ``plan``, ``min-gpus`` and ``evaluate``: an alias of ``rackplan train ...``.

The serving commands know nothing of training. The top-level group takes ``--mode`` out of their
arguments before they are parsed: ``--mode training`` hands the rest to the ``train`` command of
the same name (same options, same output), ``--mode inference`` to the serving command. An option
of one mode given to the other is refused with one line naming it.
"""

from __future__ import annotations

import click

from planner.errors import InputError

MODES = ("inference", "training")
ALIASED = ("plan", "min-gpus", "evaluate")


def split_mode(args: list[str], ctx: click.Context | None = None) -> tuple[str | None, list[str]]:
    """The ``--mode`` value given (``None``: none) and the arguments without it (``ctx``: for usage errors)."""
    mode, rest, i = None, [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--mode":
            if i + 1 == len(args):
                raise click.BadOptionUsage("--mode", "Option '--mode' requires an argument.", ctx)
            mode, i = args[i + 1], i + 2
            continue
        if arg.startswith("--mode="):
            mode = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    if mode is not None and mode not in MODES:
        choices = ", ".join(repr(m) for m in MODES)
        raise click.BadParameter(f"'{mode}' is not one of {choices}.", ctx, param_hint="'--mode'")
    return mode, rest


def _typed(args: list[str]) -> set[str]:
    """The ``--option`` names given in ``args`` (``--x=1`` counts as ``--x``)."""
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


def _takes(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in p.opts}


def foreign(args: list[str], command: click.Command, other: click.Command) -> list[str]:
    """Options of ``other`` that ``command`` does not take, given in ``args`` (in ``other``'s order)."""
    typed, own = _typed(args), _takes(command)
    return [opt for p in other.params if isinstance(p, click.Option) for opt in p.opts
            if opt in typed and opt not in own]


def unknown(args: list[str], command: click.Command, help_names: list[str] = ()) -> bool:
    """Whether ``args`` give a ``--option`` that ``command`` does not take (else no other command's can be);
    ``help_names``: the help options, which every command takes."""
    return bool(_typed(args) - _takes(command) - set(help_names))


class ModeAliasGroup(click.Group):
    """A group whose serving commands also answer ``--mode training`` through ``train``."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, cmd, rest = super().resolve_command(ctx, args)
        if name not in ALIASED:
            return name, cmd, rest
        mode, rest = split_mode(rest, click.Context(cmd, info_name=name, parent=ctx))
        if mode != "training" and not unknown(rest, cmd, ctx.help_option_names):
            return name, cmd, rest  # nothing for training: its commands are not even imported
        training = self.commands["train"].commands[name]
        if mode == "training":
            given = foreign(rest, training, cmd)
            if given:
                raise InputError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to serving, not --mode "
                                 "training (training takes --global-batch, --seq-len, --micro-batch, --precision, ...)")
            return name, training, rest
        given = foreign(rest, cmd, training)
        if given:
            raise InputError(f"{', '.join(given)} need{'' if len(given) > 1 else 's'} --mode training")
        return name, cmd, rest
