"""TC3-HMAC-SHA256: how Tencent Cloud API 3.0 requests are signed, and checking them.

A client signs (Tencent's "签名方法 v3"):

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n
                       CanonicalHeaders \\n SignedHeaders \\n hex(sha256(payload))
    StringToSign     = "TC3-HMAC-SHA256" \\n Timestamp \\n Date/service/tc3_request \\n
                       hex(sha256(CanonicalRequest))
    SecretSigning    = HMAC(HMAC(HMAC("TC3" + SecretKey, Date), service), "tc3_request")
    Signature        = hex(HMAC(SecretSigning, StringToSign))

and sends `Authorization: TC3-HMAC-SHA256 Credential=SecretId/Date/service/tc3_request,
SignedHeaders=content-type;host, Signature=…` with `X-TC-Timestamp`. CanonicalHeaders are
the signed headers as `name:value\\n`, both lower-cased and trimmed (they must include
content-type and host); CanonicalURI is `/` in API 3.0; Date is the UTC date of the
timestamp. The server recomputes the signature from the request it received with the
secret of SecretId; a timestamp more than five minutes from the server's clock is refused
so a captured request cannot be replayed later.

What ksync adds, because the official SDK signs only `content-type;host` (not the action)
and a timestamp in whole seconds:

* the body is always signed: `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` is refused, or the
  body could be swapped under a captured signature;
* the signed Host must be one of this server's names (`ksync.api.hosts`), so a request
  signed for another endpoint is not accepted here;
* a signature is remembered for its window (`ReplayCache`) and accepted again only within
  `REPEAT_S` of its first use, so a request captured from a log or a proxy cannot be
  replayed later. The grace is what the SDK needs: it signs whole seconds and not the
  action, so consecutive calls with the same parameters in one second (pause, then
  describe the same task; a poll loop) carry the same signature;
* a signature reused for *another* (unsigned) action is accepted only within
  `OTHER_ACTION_S` of its first use, logged with the caller's address and counted
  (`ksync_security_tc3_action_reuse_total`): on plain HTTP, whoever sees one call can
  still turn it into another within that second, which is TC3's own limit when the
  action is not signed. A client that signs `x-tc-action` has its action checked by the
  signature itself, since canonical headers are taken from the request as received;
* in strict mode (`--tc3-strict`) a signature is never accepted for another action, and
  a write (any action but `Describe*`) must sign `x-tc-action`. The official SDK signs
  only `content-type;host`, so in strict mode its reads work and its writes are refused
  with a sentence that says so: strict mode is for clients that sign the action.

The replay cache lives in the server process: with several servers behind one address, a
signature could still be used once on each.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ksync.api.auth import ApiKey, KeyRing
from ksync.api.compat.tencent.errors import (
    INVALID_AUTHORIZATION,
    SIGNATURE_EXPIRE,
    SIGNATURE_FAILURE,
    TOKEN_FAILURE,
    TencentError,
    missing,
)
from ksync.api.hosts import HostNames

log = logging.getLogger(__name__)

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "ckafka"
MAX_SKEW_S = 300
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256\s+"
    r"Credential=(?P<id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/,\s]+)/tc3_request"
    r"\s*,\s*SignedHeaders=(?P<headers>[a-z0-9;_-]+)"
    r"\s*,\s*Signature=(?P<sig>[0-9a-f]{64})\s*$",
)


@dataclass(frozen=True)
class Authorization:
    """The parts of a TC3 `Authorization` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> Authorization:
    """Split the header; `AuthFailure.InvalidAuthorization` when it is absent or malformed."""
    if not value:
        raise TencentError(
            INVALID_AUTHORIZATION,
            "the request has no Authorization header: sign it with TC3-HMAC-SHA256 using your "
            "SecretId and SecretKey",
        )
    if not value.startswith(ALGORITHM + " "):
        raise TencentError(
            INVALID_AUTHORIZATION,
            f"the Authorization header must use {ALGORITHM}; no other signature method is accepted",
        )
    m = _AUTHORIZATION.match(value)
    if m is None:
        raise TencentError(
            INVALID_AUTHORIZATION,
            "the Authorization header is not 'TC3-HMAC-SHA256 Credential=SecretId/YYYY-MM-DD/"
            "ckafka/tc3_request, SignedHeaders=content-type;host, Signature=<64 hex digits>'",
        )
    signed = tuple(m.group("headers").split(";"))
    if "content-type" not in signed or "host" not in signed:
        raise TencentError(
            INVALID_AUTHORIZATION, "SignedHeaders must include content-type and host"
        )
    return Authorization(m.group("id"), m.group("date"), m.group("service"), signed, m.group("sig"))


def utc_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    payload: bytes,
) -> str:
    """The request as the signer saw it; `headers` is looked up by lower-case name."""
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise TencentError(
                INVALID_AUTHORIZATION, f"the signed header {name} is not in the request"
            )
        lines.append(f"{name}:{value.strip().lower()}\n")
    return "\n".join(
        [
            method.upper(),
            uri,
            query,
            "".join(lines),
            ";".join(signed_headers),
            hashlib.sha256(payload).hexdigest(),
        ]
    )


def compute_signature(
    secret_key: str, date: str, service: str, timestamp: int, request: str
) -> str:
    """Hex TC3 signature of a canonical request."""
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(request.encode()).hexdigest()]
    )

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()


def sign(
    secret_id: str,
    secret_key: str,
    host: str,
    body: bytes,
    timestamp: int | None = None,
    content_type: str = "application/json",
    service: str = SERVICE,
) -> dict[str, str]:
    """Headers that sign a POST of `body` to `host` (the same as the official SDK's)."""
    ts = int(time.time()) if timestamp is None else timestamp
    date = utc_date(ts)
    signed = ("content-type", "host")
    request = canonical_request(
        "POST", "/", "", {"content-type": content_type, "host": host}, signed, body
    )
    sig = compute_signature(secret_key, date, service, ts, request)
    return {
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Timestamp": str(ts),
        "Authorization": f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders={';'.join(signed)}, Signature={sig}",
    }


# Stands in for an unknown SecretId; its secret is random per process, so nothing verifies.
_NOBODY = ApiKey("", secrets.token_hex(32))


# How long after its first use a signature is accepted again for the same action, and
# for another action outside strict mode (see the module docstring).
REPEAT_S = 2.0
OTHER_ACTION_S = 1.0


def is_write(action: str) -> bool:
    """Whether an action changes something (every action but the `Describe*` reads)."""
    return not action.startswith("Describe")


@dataclass(frozen=True)
class Reuse:
    """A signature accepted again for another action (default mode)."""

    first_action: str
    action: str
    age_s: float


class ReplayCache:
    """Signatures seen within their window, and the action each was used for.

    Bounded: past `max_entries` live signatures the oldest are forgotten (with a warning),
    so a key holder flooding the server costs memory in proportion to the bound only.
    Only signatures that verified are remembered, so no one without a key can fill it.
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        repeat_s: float = REPEAT_S,
        other_action_s: float = OTHER_ACTION_S,
        strict: bool = False,
    ) -> None:
        self.max_entries = max_entries
        self.repeat_s = repeat_s
        self.other_action_s = other_action_s
        self.strict = strict
        # signature -> (action of the first use, first use, expiry), oldest first
        self._seen: OrderedDict[str, tuple[str, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def use(self, signature: str, action: str, expires_at: float, now: float) -> str | Reuse | None:
        """Record a use of `signature` for `action`: why it is refused (a sentence),
        a `Reuse` when it is accepted for another action than its first use, or None."""
        with self._lock:
            seen = self._seen.get(signature)
            if seen is not None and seen[2] > now:
                return self._again(seen, action, now)
            self._seen[signature] = (action, now, expires_at)
            self._seen.move_to_end(signature)
            while self._seen and next(iter(self._seen.values()))[2] <= now:
                self._seen.popitem(last=False)
            if len(self._seen) > self.max_entries:
                log.warning(
                    "tencent replay cache full (%d signatures in 5 minutes): forgetting the oldest",
                    self.max_entries,
                )
                while len(self._seen) > self.max_entries:
                    self._seen.popitem(last=False)
            return None

    def _again(self, seen: tuple[str, float, float], action: str, now: float) -> str | Reuse | None:
        first, first_use, _ = seen
        age = now - first_use
        if action != first and self.strict:
            return (
                f"this signature was already used for {first or 'a request'}; this server is "
                "in strict mode and accepts a signature for one action only: sign each "
                "request again (and sign x-tc-action)"
            )
        limit = self.repeat_s if action == first else self.other_action_s
        if age > limit:
            return (
                f"this signature was first used {age:.0f} s ago (for {first or 'a request'}); "
                f"a signature is accepted only within {limit:g} s of its first use"
                f"{'' if action == first else ' for another action'}, so a captured request "
                "cannot be replayed: sign the request again"
            )
        return None if action == first else Reuse(first, action, age)


def verify(
    keys: KeyRing,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    replay: ReplayCache,
    hosts: HostNames | None = None,
    now: float | None = None,
    caller: str = "unknown",
    on_reuse: Callable[[Reuse], None] | None = None,
) -> ApiKey:
    """The key that signed this request, or the TencentError that says why it is refused.

    `headers` must look names up case-insensitively (Starlette's `request.headers` does).
    `hosts` are the names the server answers to (default: localhost and IP addresses).
    `caller` (the client's address) is logged when a signature is reused for another
    action; `on_reuse` is told of each such reuse (to count it).
    """
    clock = time.time() if now is None else now
    auth = parse_authorization(headers.get("authorization"))
    # An unknown SecretId goes through every check with a key no one has, and fails where a
    # wrong SecretKey fails, with the same words: answers must not tell which ids exist.
    key = keys.by_id(auth.secret_id) or _NOBODY
    raw_ts = headers.get("x-tc-timestamp")
    if raw_ts is None:
        raise missing("X-TC-Timestamp")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise TencentError(
            INVALID_AUTHORIZATION, "X-TC-Timestamp must be a Unix time in seconds"
        ) from None
    skew = clock - timestamp
    if abs(skew) > MAX_SKEW_S:
        raise TencentError(
            SIGNATURE_EXPIRE,
            f"the signature timestamp is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} "
            f"the server's clock; at most {MAX_SKEW_S} s are allowed: sync the client's clock "
            "and sign the request again",
        )
    if auth.date != utc_date(timestamp):
        raise TencentError(
            SIGNATURE_FAILURE,
            f"the credential date {auth.date} is not the UTC date of X-TC-Timestamp "
            f"({utc_date(timestamp)})",
        )
    if auth.service != SERVICE:
        raise TencentError(
            SIGNATURE_FAILURE,
            f"the credential scope names service {auth.service}; this endpoint is {SERVICE}",
        )
    if headers.get("x-tc-token"):
        raise TencentError(
            TOKEN_FAILURE,
            "ksync API keys have no temporary session tokens: sign with a permanent "
            "SecretId and SecretKey and send no X-TC-Token",
        )
    if headers.get("x-tc-content-sha256") == UNSIGNED_PAYLOAD:
        raise TencentError(
            INVALID_AUTHORIZATION,
            f"X-TC-Content-SHA256: {UNSIGNED_PAYLOAD} is not accepted: the body must be signed "
            "(the SDK signs it unless ClientProfile.unsignedPayload is set)",
        )
    host = headers.get("host", "")
    if not (hosts or HostNames()).allows(host):
        raise TencentError(
            INVALID_AUTHORIZATION,
            f"the signed Host {host} is not a name this server answers to: sign the request "
            "for the address it is sent to (the server's operator adds names with "
            "--allowed-host)",
        )
    action = headers.get("x-tc-action", "")
    if replay.strict and is_write(action) and "x-tc-action" not in auth.signed_headers:
        raise TencentError(
            INVALID_AUTHORIZATION,
            f"this server is in strict mode: a write ({action or 'no action'}) must sign "
            "x-tc-action (SignedHeaders=content-type;host;x-tc-action), so the signature "
            "cannot be used for another action; the official SDK signs only content-type "
            "and host, so its writes need a server without --tc3-strict",
        )
    # API 3.0 signs the URI "/"; a request routed to another path (`/ckafka`) may also have
    # been signed with the path it was sent to.
    for uri in dict.fromkeys(["/", path]):
        request = canonical_request(method, uri, query, headers, auth.signed_headers, body)
        expected = compute_signature(key.secret, auth.date, auth.service, timestamp, request)
        if hmac.compare_digest(expected, auth.signature) and key is not _NOBODY:
            outcome = replay.use(auth.signature, action, timestamp + MAX_SKEW_S + 1, clock)
            if isinstance(outcome, str):
                raise TencentError(SIGNATURE_FAILURE, outcome)
            if outcome is not None:
                log.warning(
                    "tencent signature of key %s first used for %s reused for %s from %s "
                    "%.2f s later: accepted (the action is not signed; --tc3-strict refuses this)",
                    key.id, outcome.first_action, outcome.action, caller, outcome.age_s,
                )
                if on_reuse is not None:
                    on_reuse(outcome)
            return key
    raise TencentError(
        SIGNATURE_FAILURE,
        "the signature does not match the request: check the SecretId and SecretKey (one "
        "of this server's API keys) and that the signed Host and Content-Type are the ones "
        "sent",
    )
