"""Kafka Connect REST face (`/connectors…`): ksync tasks as MirrorMaker 2-style connectors.

Clients written for the Kafka Connect REST API (curl recipes, kcctl-style tools, UIs that
list connectors) drive ksync unchanged: every ksync task is a `MirrorSourceConnector`
named after the task, and MM2 config keys are mapped onto the task spec by `config`.
All operations go through the task and instance services (`ksync.control`), like the
native API.

* `routes`     — the HTTP routes: parse, call one service function, answer;
* `config`     — MirrorSourceConnector configs <-> task specs;
* `hiding`     — secret values hidden in stored and shown configs;
* `states`     — connector and task states, the stopped mark;
* `connectors` — tasks looked up by name, created and reconfigured;
* `clusters`   — the instance of each side, found or registered;
* `errors`     — Connect's error shape, in one place;
* `plugin_config` — the plugin's config definitions (types, defaults, documentation).

Mapping choices (where Connect and ksync differ):

* States: Unassigned/Running/Paused/Failed -> UNASSIGNED/RUNNING/PAUSED/FAILED (the
  connector's `trace` is the task's error). A Terminating task is shown as gone (404):
  Connect's DELETE is final to the caller, and the name can be reused at once (a new task
  gets its own id and consumer group while the old one finishes stopping).
* Connect "tasks" are ksync member slots (`tasks.max` = `task_max`).
* Pause of a paused connector and resume of a running one are accepted no-ops (202), as
  in Connect; resume does not retry a FAILED connector (use restart), also as in Connect.
  Other operations that make no sense in the current state answer 409.
* Restart always restarts the whole task (every member): ksync has no connector object
  apart from its members, and their shares of the partitions are decided together. The
  decision follows Connect's plan (`onlyFailed` restarts only when the connector, or with
  `includeTasks` a task, is FAILED); then everything shows RESTARTING. Restarting one
  task (`POST …/tasks/{id}/restart`) restarts the whole task too.
* `PATCH …/config` merges keys into the config as shown by GET (null removes a key)
  and goes through the same checks as PUT. `PUT …/topics/reset` is accepted and forgets
  nothing: the topics shown are those the selection maps now, recomputed every refresh.
* `GET /connector-plugins/{plugin}/config` lists the keys ksync acts on (`plugin_config`);
  `GET /health` is healthy while the store answers.
* Config keys ksync does not act on are kept, shown by GET config, and listed in the
  status under the `ksync` extension field (`ignored_config`), never dropped silently.
* Secrets are never returned: they are stored hidden as `[hidden]` (see `hiding`).
* Stop (KIP-875) is a pause that Connect clients see as STOPPED with no tasks; a stopped
  connector keeps its offsets however long it stays stopped (a paused one only for the
  pause retention), and DELETE …/offsets resets them: the next start copies from the
  task's start point. PATCH …/offsets (per-partition offsets) is refused with a 400 that
  says so.
* Config validation (`PUT /connector-plugins/{plugin}/config/validate`) answers one entry
  per given key with its errors. It checks the config itself; whether the clusters can be
  reached is checked on create, as Connect leaves that to the connector's start.

Errors have Connect's shape `{"error_code": N, "message": "…"}`: 400 bad config or
request, 404 unknown connector, 409 conflicts.
"""

from ksync.api.compat.connect.routes import router

__all__ = ["router"]
