"""What the client commands print: plain-text tables and fields for people, the API's
JSON for scripts.

No truncation and no terminal-width guessing, so names survive pipes and narrow terminals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import typer

from ksync.cli.calls import Target
from ksync.cli.client import Json


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def cell(value: Any) -> str:
    """One value as a table shows it: '-' for nothing, yes/no for booleans."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`name:  value` lines, the values aligned."""
    width = max(len(k) for k, _ in pairs) + 1
    return "\n".join(f"{(k + ':').ljust(width)}  {cell(v)}" for k, v in pairs)


def indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def emit(t: Target, data: Json, render: Callable[[Json], str]) -> None:
    """One object as JSON or rendered for people."""
    if t.json:
        print_json(data)
    else:
        typer.echo(render(data))


def emit_list(t: Target, key: str, items: list[Json], render: Callable[[list[Json]], str]) -> None:
    """A list as JSON (`{key: items}`, the API's shape), as "no <key>", or rendered."""
    if t.json:
        print_json({key: items})
    elif not items:
        typer.echo(f"no {key}")
    else:
        typer.echo(render(items))


def emit_removed(t: Target, object_id: str) -> None:
    """That `object_id` is gone: `{"id", "deleted": true}` as JSON, "removed <id>" for people."""
    if t.json:
        print_json({"id": object_id, "deleted": True})
    else:
        typer.echo(f"removed {object_id}")
