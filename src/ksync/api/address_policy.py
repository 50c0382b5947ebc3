"""An optional policy on instance bootstrap addresses: networks the API must not make
ksync connect to (`--bootstrap-refuse CIDR`, repeatable; none by default).

Registering an instance makes ksync connect to addresses an API user chose, and the
answer (reached, refused, "Invalid response size 1213486160", i.e. an HTTP server)
tells what listens there: an internal port scanner. A replicator next to its brokers
connects to loopback and private addresses legitimately, so nothing is refused unless
the operator lists networks. Names are resolved when the instance is registered or
changed; the Kafka client resolves them again itself when it connects, so a name
rebound later is not caught (list the networks that matter, and use addresses).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from ksync.domain.errors import InvalidField

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def check_network(value: str) -> IPNetwork:
    """One `--bootstrap-refuse` entry as a network; ValueError saying what is allowed."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"'{value}' is not a CIDR (10.0.0.0/8) or an address") from None


class BootstrapPolicy:
    """Refuses bootstrap addresses in the configured networks."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.networks = [check_network(n) for n in refuse]

    def check(self, bootstrap_servers: str) -> None:
        """`InvalidField("bootstrap_servers", …)` when an address (or what a name resolves
        to) is in a refused network; nothing is contacted but the resolver."""
        if not self.networks:
            return
        for server in bootstrap_servers.split(","):
            host, _, port = server.rpartition(":")
            host = host.strip("[]")
            for address in _addresses(host, port):
                network = next((n for n in self.networks if address in n), None)
                if network is not None:
                    raise InvalidField(
                        "bootstrap_servers",
                        f"{server} is in {network}, a network the operator does not let "
                        "instances use (--bootstrap-refuse)",
                    )


def _addresses(host: str, port: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        return []  # the probe says it cannot be reached, in the Kafka client's words
    found = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(address)
    return found
