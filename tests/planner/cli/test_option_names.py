"""One spelling per option across commands: every command that writes a report or a file takes
``--output`` (``-o`` is sweep's short form), and no command spells it another way."""

import click
import pytest

from planner.cli.main import cli, main


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))
        else:
            yield " ".join((*path, name)), cmd


def test_every_command_writes_through_output_and_nothing_else():
    seen = {}
    for name, cmd in _commands(cli):
        opts = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
        seen[name] = "--output" in opts
        # No other spelling of the same thing (calibrate once had --out beside --output).
        assert not opts & {"--out", "--out-file", "--output-file", "--write"}, name
    # Every command but none: the catalogue listings and show write their tables too.
    assert [n for n, has in seen.items() if not has] == []
    assert len(seen) >= 16  # 13 top-level commands and train plan, min-gpus, evaluate: the walk reaches them


def test_a_required_output_left_out_is_one_line_and_exit_2(capsys, tmp_path):
    # sweep and calibrate need --output; under click 8.3 and later an option declared with default=None counts as
    # given, so the missing option once reached the command and failed there (a TypeError on Path(None))
    grid = tmp_path / "g.toml"
    grid.write_text('models = ["llama-3.1-8b"]\nsystems = ["hgx-h100"]\ntokens_cached = [1024]\n')
    for argv, option in ((["sweep", str(grid)], "'--output' / '-o'"), (["calibrate", str(grid)], "'--output'")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        out, err = capsys.readouterr()
        assert exc.value.code == 2 and out == ""
        assert err.strip().splitlines() == [f"error: Missing option {option}. (see: rackplan {argv[0]} --help)"]
