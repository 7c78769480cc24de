"""Commands registered by name and imported on first use, so ``rackplan --help`` loads no planner.

A command module (``planner.cli.plan``, ...) imports numpy, PuLP and HiGHS through the library; the
top-level group knows each command only by name, its module and the one-line help ``--help`` lists.
The module is imported (and its ``register`` run) when a command of it is looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping

import click


class LazyCommands(MutableMapping):
    """``Group.commands`` whose entries import their module on first access."""

    def __init__(self, modules: dict[str, str]):
        self.modules = dict(modules)  # command name -> module registering it
        self.loaded: dict[str, click.Command] = {}

    def _load(self, name: str) -> None:
        module = importlib.import_module(self.modules[name])
        collector = click.Group()
        module.register(collector)
        self.loaded.update(collector.commands)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded and name in self.modules:
            self._load(name)
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self.loaded.pop(name, None)
        self.modules.pop(name, None)

    def __iter__(self):
        return iter(dict.fromkeys([*self.modules, *self.loaded]))

    def __len__(self) -> int:
        return len(set(self.modules) | set(self.loaded))

    def __contains__(self, name: object) -> bool:
        return name in self.modules or name in self.loaded


def lazy_group(base: type[click.Group], table: dict[str, tuple[str, str]]) -> type[click.Group]:
    """A ``base`` subclass whose commands are ``table``: name -> (module, first sentence of its help)."""

    class LazyGroup(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.commands = LazyCommands({name: module for name, (module, _) in table.items()})

        def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            names = self.list_commands(ctx)
            if not names:
                return
            limit = formatter.width - 6 - max(len(name) for name in names)
            rows = []
            for name in names:
                if name in self.commands.loaded or name not in table:
                    rows.append((name, self.commands[name].get_short_help_str(limit)))
                else:
                    rows.append((name, click.Command(name, help=table[name][1]).get_short_help_str(limit)))
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    return LazyGroup
