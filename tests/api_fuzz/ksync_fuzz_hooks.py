"""Schemathesis hooks for the fuzz of the native API, the Kafka Connect face and the
Tencent face (loaded through SCHEMATHESIS_HOOKS by the `schemathesis run` processes that
test_openapi_fuzz.py starts).

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

Connect face: a connector config's `source.cluster.bootstrap.servers` and
`target.cluster.bootstrap.servers` get the same rewrite (the instance of a test broker is
then found, registered already, and nothing new is contacted), and `tasks.max` is capped.
Generated configs are sometimes merged into a valid one (KSYNC_FUZZ_CONNECT_CONFIG) and
path names are sometimes the known connector's, to get past the 400s and 404s.

Tencent face: each action is an operation `POST /tencent/<Action>` of the description in
tencent_openapi.py; `before_call` sends it to the dispatcher (`POST /` or `/ckafka`) with
the action in `X-TC-Action`, signed with TC3 over the body as sent (action signed too, so
no signature is ever reused for another action). `KafkaConnectParam.BrokerAddress` gets
the rewrite above, `TaskMax` is capped, and bodies sometimes name the known task,
instances, group and flow. The check `tencent_answers_in_its_shape` fails a case whose
answer is not HTTP 200 with Tencent's envelope, is `InternalError` (the face's 5xx), or is
an authentication failure (the signing here would be wrong, and nothing past it fuzzed).

Every call is counted per face in KSYNC_FUZZ_LOG, for the test to print.

Inputs, from the environment: KSYNC_FUZZ_BROKERS (comma-separated loopback addresses),
KSYNC_FUZZ_SECURITY (the security block to use, JSON), KSYNC_FUZZ_INSTANCES (instance ids), KSYNC_FUZZ_TASK (a task id), KSYNC_FUZZ_LOG (a file
that records each rewrite, so the test can check that these hooks were loaded and used);
for the Connect and Tencent faces also KSYNC_FUZZ_CONNECTOR (a connector name),
KSYNC_FUZZ_CONNECT_CONFIG (its config, JSON), KSYNC_FUZZ_FLOW (the task's flow id),
KSYNC_FUZZ_TC_URL (the server's base URL) and KSYNC_FUZZ_TC_KEY (`id:secret` to sign with).
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis.core import NotSet
from schemathesis.generation.value import GeneratedValue
from tencent_openapi import PREFIX as TENCENT_PREFIX

from ksync.spec import SecuritySpec, validate_bootstrap_servers

BROKERS = os.environ["KSYNC_FUZZ_BROKERS"].split(",")
SECURITY = json.loads(os.environ["KSYNC_FUZZ_SECURITY"])
INSTANCES = os.environ["KSYNC_FUZZ_INSTANCES"].split(",")
TASK = os.environ["KSYNC_FUZZ_TASK"]
LOG = os.environ["KSYNC_FUZZ_LOG"]
MAX_TASK_MAX = 2
CONNECTOR = os.environ.get("KSYNC_FUZZ_CONNECTOR", "")
CONNECT_CONFIG: dict[str, Any] = json.loads(os.environ.get("KSYNC_FUZZ_CONNECT_CONFIG", "{}"))
FLOW = int(os.environ.get("KSYNC_FUZZ_FLOW", "0"))
TC_URL = os.environ.get("KSYNC_FUZZ_TC_URL", "")
TC_ID, _, TC_SECRET = os.environ.get("KSYNC_FUZZ_TC_KEY", "").partition(":")
PLUGIN = "org.apache.kafka.connect.mirror.MirrorSourceConnector"

assert BROKERS and all(b.startswith("127.0.0.1:") for b in BROKERS), BROKERS

_turn = itertools.count()

INSTANCE_BODY_OPERATIONS = {("POST", "/api/v1/instances"), ("PATCH", "/api/v1/instances/{instance_id}")}
ALARM_BODY_OPERATIONS = {("POST", "/api/v1/alarms"), ("PATCH", "/api/v1/alarms/{rule_id}")}
# Port 9 (discard) on loopback: nothing listens, so a fired alarm's delivery is refused
# at once and never leaves the machine.
LOOPBACK_WEBHOOK = "http://127.0.0.1:9/fuzz-{}"


def face(path: str) -> str:
    """Which face an operation belongs to: native, connect or tencent."""
    if path.startswith(TENCENT_PREFIX):
        return "tencent"
    return "native" if path.startswith("/api/") or path == "/healthz" else "connect"


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


CONNECT_SERVER_KEYS = ("source.cluster.bootstrap.servers", "target.cluster.bootstrap.servers")
CONNECT_CONFIG_OPERATIONS = {
    ("PUT", "/connectors/{name}/config"),
    ("PATCH", "/connectors/{name}/config"),
    ("PUT", "/connector-plugins/{plugin}/config/validate"),
}


def _to_test_broker(servers: Any) -> str | None:
    """The test broker to send an acceptable address to, or None to leave it (already a
    test broker, or refused by the API's own validation before any connection)."""
    if not isinstance(servers, str) or servers in BROKERS:
        return None
    try:
        validate_bootstrap_servers(servers)
    except ValueError:
        return None
    return BROKERS[next(_turn) % len(BROKERS)]


def connect_config_of(method: str, path: str, body: Any) -> dict[str, Any] | None:
    """The connector config in a Connect request body, if it carries one."""
    if (method.upper(), path) == ("POST", "/connectors") and isinstance(body, dict):
        config = body.get("config")
        return config if isinstance(config, dict) else None
    if (method.upper(), path) in CONNECT_CONFIG_OPERATIONS and isinstance(body, dict):
        return body
    return None


def keep_connect_on_loopback(method: str, path: str, body: Any) -> None:
    """Point acceptable cluster addresses of a connector config at a test broker, and cap
    `tasks.max`: a config naming a test broker is valid, and its task runs."""
    config = connect_config_of(method, path, body)
    if config is None:
        return
    for key in CONNECT_SERVER_KEYS:
        broker = _to_test_broker(config.get(key))
        if broker is not None:
            _record({"rewrote_connect": key})
            config[key] = broker
    tasks_max = config.get("tasks.max")
    if isinstance(tasks_max, (int, str)) and str(tasks_max).strip().isdigit() and int(str(tasks_max)) > MAX_TASK_MAX:
        config["tasks.max"] = str(MAX_TASK_MAX)


def keep_tencent_on_loopback(action: str, body: Any) -> None:
    """The same for the Tencent actions that name a cluster (BrokerAddress) or a size."""
    if not isinstance(body, dict):
        return
    param = body.get("KafkaConnectParam")
    if action in ("CreateConnectResource", "ModifyConnectResource") and isinstance(param, dict):
        broker = _to_test_broker(param.get("BrokerAddress"))
        if broker is not None:
            _record({"rewrote_tencent": "BrokerAddress"})
            param["BrokerAddress"] = broker
    if action == "CreateDatahubTask" and isinstance(body.get("TaskMax"), int) and body["TaskMax"] > MAX_TASK_MAX:
        body["TaskMax"] = MAX_TASK_MAX


def _tc3_headers(action: str, raw: bytes) -> dict[str, str]:
    from compat.tencent_tc3 import signed_headers

    host = TC_URL.split("://", 1)[1]
    return signed_headers(action, raw, host, TC_ID, TC_SECRET, sign_action=True)


def send_to_the_dispatcher(case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """A `POST /tencent/<Action>` case as the Tencent face takes it: POST / (or /ckafka,
    every other call) with the action in its header and the body signed as sent."""
    action = case.path.removeprefix(TENCENT_PREFIX)
    keep_tencent_on_loopback(action, case.body)
    raw = _raw(case.body)
    kwargs["url"] = TC_URL + ("/ckafka" if next(_turn) % 2 else "/")
    kwargs["data"] = raw
    case.headers = {**(case.headers or {}), **_tc3_headers(action, raw)}


def _raw(body: Any) -> bytes:
    """The body as the transport would send it (the coverage phase sends raw bytes too)."""
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    try:
        return json.dumps(body).encode()
    except (TypeError, ValueError):
        return str(body).encode()


def _mapped(generated: Any, function: Any) -> Any:
    """`function` applied to a generated value (schemathesis wraps some in GeneratedValue)."""
    if isinstance(generated, GeneratedValue):
        return generated.map_value(function)
    return function(generated)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    kind = face(case.path)
    _record({"call": kind})
    if kind == "tencent":
        send_to_the_dispatcher(case, kwargs)
    elif kind == "connect":
        keep_connect_on_loopback(case.method, case.path, case.body)
        if TC_SECRET:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TC_SECRET}"}
    else:
        keep_on_loopback(case.method, case.path, case.body)


@schemathesis.check
def tencent_answers_in_its_shape(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """The Tencent face answers HTTP 200 with its envelope, never InternalError (its 5xx),
    and accepts the signature (else the fuzz would test nothing past it)."""
    if face(case.path) != "tencent" or case.method.upper() != "POST":
        return None  # other methods on the face's path are other faces' routes (GET /: Connect)
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    answer = response.json()["Response"]
    assert isinstance(answer.get("RequestId"), str), answer
    error = answer.get("Error") or {}
    code = str(error.get("Code", ""))
    assert code != "InternalError", f"InternalError: {error.get('Message')}"
    assert not code.startswith("AuthFailure"), f"the fuzz's own signature was refused: {error}"
    return True


@schemathesis.hook
def before_generate_path_parameters(context: schemathesis.HookContext, strategy: Any) -> Any:
    path = context.operation.path if context.operation is not None else ""
    if "{task_id}" in path:
        return st.one_of(strategy, st.just({"task_id": TASK}))
    if "{instance_id}" in path:
        return st.one_of(strategy, st.sampled_from([{"instance_id": i} for i in INSTANCES]))
    if "{name}" in path and CONNECTOR:
        return st.one_of(strategy, strategy.map(lambda g: _mapped(g, lambda p: {**p, "name": CONNECTOR})))
    if "{plugin}" in path:
        return st.one_of(strategy, strategy.map(lambda g: _mapped(g, lambda p: {**p, "plugin": PLUGIN})))
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
        return _sometimes(strategy, _with_known_instances)
    if key in INSTANCE_BODY_OPERATIONS:
        return _sometimes(strategy, _with_acceptable_servers)
    if op is not None and op.path.startswith(TENCENT_PREFIX):
        action = op.path.removeprefix(TENCENT_PREFIX)
        return _sometimes(strategy, lambda body: _with_known_tencent_ids(action, body))
    if CONNECT_CONFIG and key in {("POST", "/connectors"), *CONNECT_CONFIG_OPERATIONS} - {("PATCH", "/connectors/{name}/config")}:
        return strategy.flatmap(lambda generated: st.sampled_from([
            generated,
            _mapped(generated, lambda body: _with_valid_config(key, body)),
            _mapped(generated, lambda body: _with_other_servers(key, body)),
        ]))
    return strategy


def _sometimes(strategy: Any, function: Any) -> Any:
    """Each generated body as it is, or changed by `function`."""
    return strategy.flatmap(lambda generated: st.sampled_from([generated, _mapped(generated, function)]))


def _with_valid_config(key: tuple[str, str], body: Any) -> Any:
    """The known connector's config with the generated keys over it (a new name on
    POST, none on PUT, where the path names the connector)."""
    extra = body if isinstance(body, dict) else {}
    if key == ("POST", "/connectors"):
        config = {**CONNECT_CONFIG, **(extra.get("config") if isinstance(extra.get("config"), dict) else {})}
        name = extra.get("name") if isinstance(extra.get("name"), str) else f"fuzz-connector-{next(_turn)}"
        config["name"] = name
        return {"name": name, "config": config}
    if key[0] == "PATCH":
        return extra  # merged into the connector's own config: the path name is the reach
    base = dict(CONNECT_CONFIG)
    if key == ("PUT", "/connectors/{name}/config"):
        base.pop("name", None)
    return {**base, **extra}


def _with_other_servers(key: tuple[str, str], body: Any) -> Any:
    """A valid config whose source cluster is an acceptable address that is no test
    broker: what `before_call` must rewrite (to a test broker; and the server refuses
    every new address anyway, should it not)."""
    valid = _with_valid_config(key, body)
    config = connect_config_of(*key, valid)
    if config is not None:
        config["source.cluster.bootstrap.servers"] = "127.0.0.1:1"
    return valid


def _with_known_tencent_ids(action: str, body: Any) -> Any:
    """`body` naming the known task, instances, group and flow where it names one."""
    if not isinstance(body, dict):
        return body
    body = json.loads(json.dumps(body))
    for name, value in (("TaskId", TASK), ("ResourceId", INSTANCES[0]), ("Name", INSTANCES[0]),
                        ("Group", f"ksync-{TASK}"), ("FlowId", FLOW)):
        if name in body:
            body[name] = value
    for side, iid in (("SourceResource", INSTANCES[0]), ("TargetResource", INSTANCES[-1])):
        param = body.get(side, {}).get("KafkaParam") if isinstance(body.get(side), dict) else None
        if isinstance(param, dict):
            param["Resource"] = iid
    if isinstance(body.get("TaskMax"), int):
        body["TaskMax"] = min(body["TaskMax"], MAX_TASK_MAX)
    param = body.get("KafkaConnectParam")
    if isinstance(param, dict):
        # An acceptable address that is no test broker: what `before_call` must rewrite
        # (and the server refuses every new address anyway, should it not).
        param["BrokerAddress"] = "127.0.0.1:1"
    return body
