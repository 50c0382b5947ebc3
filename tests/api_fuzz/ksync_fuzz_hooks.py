"""Schemathesis hooks for the fuzz of the native API (loaded through SCHEMATHESIS_HOOKS by
the `schemathesis run` process that test_openapi_fuzz.py starts).

Safety first: registering or changing an instance makes the ksync server connect to the
body's `bootstrap_servers`, and a generated value could name any host. `before_call` runs
right before every request schemathesis sends (every phase goes through `Case.call`) and
rewrites any value the API would accept to the address of a test broker on 127.0.0.1, in
place, so that cases derived from it afterwards carry the safe value too. A value the API
rejects is left as is: the API refuses it with the same validator before connecting. So no
fuzzed request can make ksync send traffic off this machine.

Identity: the same way, a security block the API would accept (or none, on a register)
becomes the fuzz's own SASL user, the only identity the test brokers' SASL listeners know
from this fuzz. So every connection a fuzzed request causes authenticates as a user with
next to no rights on the shared clusters, and none waits out a timeout talking the wrong
protocol to a listener.

Reach: path ids are sometimes the ids of the real instances and task, and task bodies
sometimes name the real instances (with `task_max` capped so that the embedded worker is
not asked for hundreds of members), so that the fuzz gets past the 404s and 422s.

Inputs, from the environment: KSYNC_FUZZ_BROKERS (comma-separated loopback addresses),
KSYNC_FUZZ_SECURITY (the security block to use, JSON), KSYNC_FUZZ_INSTANCES (instance ids), KSYNC_FUZZ_TASK (a task id), KSYNC_FUZZ_LOG (a file
that records each rewrite, so the test can check that these hooks were loaded and used).
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st
from pydantic import ValidationError

from ksync.spec import SecuritySpec, validate_bootstrap_servers

BROKERS = os.environ["KSYNC_FUZZ_BROKERS"].split(",")
SECURITY = json.loads(os.environ["KSYNC_FUZZ_SECURITY"])
INSTANCES = os.environ["KSYNC_FUZZ_INSTANCES"].split(",")
TASK = os.environ["KSYNC_FUZZ_TASK"]
LOG = os.environ["KSYNC_FUZZ_LOG"]
MAX_TASK_MAX = 2

assert BROKERS and all(b.startswith("127.0.0.1:") for b in BROKERS), BROKERS

_turn = itertools.count()

INSTANCE_BODY_OPERATIONS = {("POST", "/api/v1/instances"), ("PATCH", "/api/v1/instances/{instance_id}")}
ALARM_BODY_OPERATIONS = {("POST", "/api/v1/alarms"), ("PATCH", "/api/v1/alarms/{rule_id}")}
# Port 9 (discard) on loopback: nothing listens, so a fired alarm's delivery is refused
# at once and never leaves the machine.
LOOPBACK_WEBHOOK = "http://127.0.0.1:9/fuzz-{}"


def _record(event: dict[str, Any]) -> None:
    with open(LOG, "a") as f:
        f.write(json.dumps(event) + "\n")


_record({"loaded": True})


def keep_on_loopback(method: str, path: str, body: Any) -> None:
    """Point an acceptable `bootstrap_servers` of an instance body at a test broker, and
    every webhook URL of an alarm rule at loopback: a fuzzed rule may fire on a real task."""
    if (method.upper(), path) in ALARM_BODY_OPERATIONS and isinstance(body, dict):
        hooks = body.get("webhooks")
        if isinstance(hooks, list):
            body["webhooks"] = [
                LOOPBACK_WEBHOOK.format(i) if isinstance(url, str) else url
                for i, url in enumerate(hooks)
            ]
            _record({"rewrote_webhooks": len(hooks)})
        return
    if (method.upper(), path) not in INSTANCE_BODY_OPERATIONS or not isinstance(body, dict):
        return
    _keep_identity(method.upper() == "POST", body)
    servers = body.get("bootstrap_servers")
    if not isinstance(servers, str) or servers in BROKERS:
        return
    try:
        validate_bootstrap_servers(servers)
    except ValueError:
        return  # refused by the API's own validation before any connection
    # Each broker in turn: a PATCH to the other one's cluster is a (wanted) 422.
    body["bootstrap_servers"] = BROKERS[next(_turn) % len(BROKERS)]
    _record({"rewrote": servers, "to": body["bootstrap_servers"]})


def _keep_identity(register: bool, body: dict[str, Any]) -> None:
    """Give an acceptable security block (or a missing one, on a register) the fuzz's user."""
    if "security" not in body:
        if register:
            body["security"] = dict(SECURITY)
            _record({"rewrote_security": "missing"})
        return
    security = body["security"]
    if security == SECURITY:
        return
    try:
        SecuritySpec.model_validate(security)
    except ValidationError:
        return  # refused by the API's own validation before any connection
    body["security"] = dict(SECURITY)
    _record({"rewrote_security": "given"})


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    keep_on_loopback(case.method, case.path, case.body)


@schemathesis.hook
def before_generate_path_parameters(context: schemathesis.HookContext, strategy: Any) -> Any:
    path = context.operation.path if context.operation is not None else ""
    if "{task_id}" in path:
        return st.one_of(strategy, st.just({"task_id": TASK}))
    if "{instance_id}" in path:
        return st.one_of(strategy, st.sampled_from([{"instance_id": i} for i in INSTANCES]))
    return strategy


def _with_known_instances(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    body = dict(body)
    for part, iid in (("source", INSTANCES[0]), ("target", INSTANCES[-1])):
        if isinstance(body.get(part), dict):
            body[part] = {**body[part], "instance_id": iid}
    options = body.get("options")
    if isinstance(options, dict) and isinstance(options.get("task_max"), int) and options["task_max"] > MAX_TASK_MAX:
        body["options"] = {**options, "task_max": MAX_TASK_MAX}
    return body


def _with_acceptable_servers(body: Any) -> Any:
    """A body whose `bootstrap_servers` passes validation but is no test broker: what
    `before_call` must rewrite (a loopback port where nothing listens, should it not)."""
    if not isinstance(body, dict):
        return body
    return {**body, "bootstrap_servers": "127.0.0.1:1"}


@schemathesis.hook
def before_generate_body(context: schemathesis.HookContext, strategy: Any) -> Any:
    op = context.operation
    key = (op.method.upper(), op.path) if op is not None else None
    if key == ("POST", "/api/v1/tasks"):
        return strategy.flatmap(lambda body: st.sampled_from([body, _with_known_instances(body)]))
    if key in INSTANCE_BODY_OPERATIONS:
        return strategy.flatmap(lambda body: st.sampled_from([body, _with_acceptable_servers(body)]))
    return strategy
