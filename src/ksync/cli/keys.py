"""`ksync key new` and `ksync key list`: the operator's commands for the API keys file
(`ksync server --api-keys-file`).

Keys are edited in the file, not through the API: a key that could make keys would be
every key. `key new` appends a generated key (a read-only one with `--read-only`, for
dashboards and monitoring), writing the file anew with mode 0600, and prints its secret
once; `key list` shows ids and access, never secrets. A running server reads the file at
start: restart it to use a new key.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from ksync.api.auth import KeyRing
from ksync.cli.calls import EXIT_USAGE, fail

app = typer.Typer(no_args_is_help=True, help="API keys in the file `ksync server --api-keys-file` reads.")

KeysFile = Annotated[
    Path,
    typer.Option("--file", envvar="KSYNC_API_KEYS_FILE", help="The API keys file (created if absent)"),
]


def _entries(path: Path) -> list[dict[str, Any]]:
    """The file's entries as they are (validated), or none for a file not there yet."""
    if not path.exists():
        return []
    try:
        KeyRing.load(path)
    except ValueError as exc:
        fail(EXIT_USAGE, str(exc))
    return list(json.loads(path.read_text()))


def _write(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the file at once (never half-written), readable by its owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command("new")
def new(
    file: KeysFile,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="The key may read (GET; Describe* on the Tencent face) and nothing else")
    ] = False,
    key_id: Annotated[
        str | None, typer.Option("--id", help="The key's id (default: AKID and random characters)")
    ] = None,
) -> None:
    """Append a new key to the keys file and print its secret (shown this once)."""
    entries = _entries(file)
    kid = key_id.strip() if key_id is not None else "AKID" + secrets.token_hex(8).upper()
    if not kid:
        fail(EXIT_USAGE, "--id must not be empty")
    if any(e["id"] == kid for e in entries):
        fail(EXIT_USAGE, f"--id {kid}: {file} already has a key with this id")
    secret = secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"id": kid, "secret": secret}
    if read_only:
        entry["read_only"] = True
    _write(file, [*entries, entry])
    typer.echo(f"id:     {kid}")
    typer.echo(f"secret: {secret}")
    typer.echo(
        f"access: {'read-only' if read_only else 'full'}; restart the server to use it "
        "(the secret is not shown again)",
        err=True,
    )


@app.command("list")
def list_(file: KeysFile) -> None:
    """The keys in the file: id and access (secrets are never shown)."""
    for entry in _entries(file):
        typer.echo(f"{entry['id']}\t{'read-only' if entry.get('read_only') else 'full'}")
