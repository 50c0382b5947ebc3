"""The names this server answers to: the one check of a request's Host (and of the Host a
Tencent Cloud signature was made for).

A browser page can make its own domain resolve to 127.0.0.1 ("DNS rebinding") and then
call ksync as if from the same origin, but its requests still say `Host: its.domain`. So
a request is answered only when its Host is a name the operator gave (`--allowed-host`),
`localhost`, or an IP address: a page cannot be served from an IP address it does not
own, so an IP literal cannot be rebound, and monitoring that scrapes by address keeps
working. `*` accepts any Host (behind a proxy that checks names itself).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

LOOPBACK_NAMES = frozenset({"localhost"})
ANY = "*"

_PORT = re.compile(r":\d{1,5}")
_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_name(value: str) -> str:
    """A configured name, lower-cased; ValueError saying what is allowed."""
    name = value.strip().lower().rstrip(".")
    if name == ANY or is_ip(name) or _NAME.match(name):
        return name
    raise ValueError(f"'{value}' is not a host name, an IP address or '*'")


def host_of(header: str) -> str | None:
    """The host part of a Host header (port and IPv6 brackets removed), lower-cased;
    None when it is not a host name or address at all."""
    value = header.strip().lower()
    if value.startswith("["):
        host, closed, rest = value[1:].partition("]")
        if not closed or (rest and not _PORT.fullmatch(rest)) or not is_ip(host):
            return None
        return host
    host, colon, port = value.partition(":")
    if colon and not _PORT.fullmatch(colon + port):
        return None
    host = host.rstrip(".")
    if is_ip(host) or _NAME.match(host):
        return host
    return None


class HostNames:
    """Answers one question: is this Host header one of the server's names?"""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names = frozenset(check_name(n) for n in names)
        self._any = ANY in self._names

    def allows(self, header: str | None) -> bool:
        if header is None:
            return False
        if self._any:
            return True
        host = host_of(header)
        if host is None:
            return False
        return host in LOOPBACK_NAMES or is_ip(host) or host in self._names

    def __repr__(self) -> str:
        return f"HostNames({sorted(self._names)!r})"
