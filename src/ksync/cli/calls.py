"""How a client command reaches the API: the options every one of them takes, and the
exit codes its failures become.

Every client command takes `--api-url` (env KSYNC_API_URL), `--api-key` (env
KSYNC_API_KEY), `--ca-cert` (env KSYNC_CA_CERT: the CA that signed an https server's
certificate, when the system does not trust it) and `--output table|json`. Exit codes are part of the interface: scripts
branch on them (see EXIT_CODES); this module is the one place that maps a client error
to one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, NoReturn

import typer

from ksync.cli.client import (
    ApiError,
    ClientError,
    KsyncClient,
    NotFoundError,
    Unauthorized,
    Unreachable,
)

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4

EXIT_CODES = (
    "Exit codes: 0 ok; 1 the API refused the call (its message is printed on stderr, "
    "e.g. 401 unauthorized or 422 naming the field); 2 usage error; "
    "3 cannot reach the server at --api-url; 4 not found."
)

OutputFormat = Literal["table", "json"]

# Options every client command takes.
ApiUrl = Annotated[
    str,
    typer.Option("--api-url", envvar="KSYNC_API_URL", help="Base URL of the ksync server"),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="KSYNC_API_KEY", show_default=False,
        help="API key (secret), sent as 'Authorization: Bearer'",
    ),
]
CaCert = Annotated[
    Path | None,
    typer.Option(
        "--ca-cert", envvar="KSYNC_CA_CERT", show_default=False,
        help="PEM CA certificate to verify an https --api-url with (default: the system's CAs)",
    ),
]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="table for people, json for scripts")]


@dataclass(frozen=True)
class Target:
    """Where and how to call the API, and how to print the answer."""

    url: str
    key: str | None
    output: OutputFormat
    ca_cert: Path | None = None

    @property
    def json(self) -> bool:
        return self.output == "json"


def target(url: str, key: str | None, output: OutputFormat, ca_cert: Path | None = None) -> Target:
    """The validated `--api-url`, `--api-key`, `--output` and `--ca-cert` of a command
    (usage error: 2)."""
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"'{url}' must start with http:// or https://", param_hint="--api-url")
    if ca_cert is not None and not ca_cert.is_file():
        raise typer.BadParameter(f"'{ca_cert}' is not a readable file", param_hint="--ca-cert")
    return Target(url, key or None, output, ca_cert)


def fail(code: int, message: str) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def api(t: Target) -> Iterator[KsyncClient]:
    """A client whose failures become the documented exit codes (message on stderr)."""
    try:
        with KsyncClient(t.url, t.key, ca_cert=t.ca_cert) as client:
            yield client
    except Unreachable as exc:
        fail(EXIT_UNREACHABLE, str(exc))
    except NotFoundError as exc:
        fail(EXIT_NOT_FOUND, exc.message)
    except Unauthorized as exc:
        hint = "give --api-key or set KSYNC_API_KEY" if t.key is None else "check --api-key"
        fail(EXIT_API_ERROR, f"401 unauthorized: {exc.message} ({hint})")
    except ApiError as exc:
        fail(EXIT_API_ERROR, f"{exc.status} {exc.code}: {exc.message}")
    except ClientError as exc:
        fail(EXIT_USAGE, str(exc))


def object_id(value: str, what: str) -> str:
    """An instance or task id from the command line, stripped; empty is a usage error."""
    if not value.strip():
        raise typer.BadParameter(f"{what} id must not be empty")
    return value.strip()
