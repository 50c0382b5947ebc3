"""Where webhooks may go: public addresses only, unless the operator allows more.

An alarm rule's webhook URL is chosen by an API user, and ksync POSTs to it from inside
the operator's network: without a check it reaches the cloud metadata service
(169.254.169.254), services on loopback or the private network, and its answers (or the
lack of them) tell what listens where. So a webhook's host is resolved and every address
it resolves to must be public: loopback, link-local, private, shared, multicast,
unspecified and reserved ranges are refused, both when a rule is saved and again at each
connection (the name may resolve elsewhere by then: DNS rebinding), and the connection
goes to the address that was checked.

`--webhook-allow` (CIDRs or host names) lets an operator open chosen internal receivers.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


class AddressRefused(Exception):
    """A webhook address ksync will not contact; the message says why (no secrets, no
    answer from the address)."""


def kind(address: IPAddress) -> str | None:
    """What makes `address` internal ("a loopback address"…), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return kind(address.ipv4_mapped)
    for test, words in (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata lives there)"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    ):
        if test:
            return words
    return None


def check_entry(value: str) -> str:
    """One `--webhook-allow` entry (a CIDR, an address or a host name), normalised;
    ValueError saying what is allowed."""
    entry = value.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    labels = entry.split(".")
    # A name, not a mistyped address: its last label is not a number.
    if set(entry) <= _HOST_CHARS and all(labels) and not labels[-1].isdigit():
        return entry
    raise ValueError(f"'{value}' is not a CIDR (10.0.0.0/8), an address or a host name")


class WebhookPolicy:
    """Answers: may ksync POST to this URL, and at which address?"""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        entries = [check_entry(e) for e in allow]
        self._networks: list[IPNetwork] = []
        self._hosts: set[str] = set()
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry))
            except ValueError:
                self._hosts.add(entry)

    def _allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self._networks)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, all checked; AddressRefused if the name
        does not resolve or resolves to an internal address that is not allowed."""
        name = host.strip("[]").lower().rstrip(".")
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise AddressRefused(f"{host} does not resolve to an address") from None
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if name in self._hosts:
            return found
        for text in found:
            address = ipaddress.ip_address(text.split("%")[0])
            words = kind(address)
            if words is not None and not self._allowed(address):
                shown = host if host.strip("[]") == text else f"{host} resolves to {text}, which"
                raise AddressRefused(
                    f"{shown} is {words}: ksync sends webhooks to public addresses only "
                    "(an operator can allow internal receivers with --webhook-allow)"
                )
        return found

    def url_problem(self, url: str) -> str | None:
        """Why ksync will not POST to `url` now, or None (resolves its host)."""
        parts = urlsplit(url)
        if parts.hostname is None:
            return "has no host"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            self.addresses(parts.hostname, port)
        except AddressRefused as exc:
            return str(exc)
        return None
