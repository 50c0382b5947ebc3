"""The `ksync` command line: the process commands (`server`, `worker`, `demo`,
`rotate-secret-key`) and the
REST API client commands (`instance …`, `task …`, `alarm …`), and `key …`, which edits
the API keys file.

One module per concern: `processes` runs ksync itself; `instances`, `tasks`, `alarms`
and `watch` are the client commands per resource; `calls` holds the options they share and maps
client errors to exit codes; `output` prints tables and JSON; `client` is the typed HTTP
client of the API.
"""

from __future__ import annotations

import typer

from ksync.cli import alarms, instances, keys, processes, tasks, watch
from ksync.cli.calls import EXIT_CODES

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Kafka data sync service.")
for command in (processes.server, processes.worker, processes.demo):
    app.command()(command)
app.command("rotate-secret-key")(processes.rotate_secret_key)
tasks.app.command("watch", epilog=EXIT_CODES)(watch.watch)
app.add_typer(instances.app, name="instance")
app.add_typer(tasks.app, name="task")
app.add_typer(alarms.app, name="alarm")
app.add_typer(keys.app, name="key")


def main() -> None:
    """The `ksync` console script (pyproject.toml [project.scripts])."""
    app()
