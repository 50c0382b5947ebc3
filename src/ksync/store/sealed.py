"""Secrets at rest: the store keeps instance passwords and certificates sealed, never in
clear.

A sealed value is one string, `ksync-sealed:v1:<key id>:<token>`: the token is the
base64url of a 12-byte random nonce and the AES-256-GCM ciphertext (with its tag) of the
secret, authenticated together with what the value is (`purpose`, e.g. "password"), so a
sealed value copied into another field does not open. The key id is the first 8 hex
digits of the key's SHA-256: it says which key sealed a value (rotation, and an error
that names both keys when the wrong one is given) and reveals nothing of the key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "ksync-sealed:v1:"
KEY_BYTES = 32
_NONCE_BYTES = 12


class WrongSecretKey(ValueError):
    """A sealed value that this key does not open: another key sealed it, or it was
    altered. The message names the key source and both key ids."""


def key_id(key: bytes) -> str:
    """The public name of a key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def is_sealed(value: str) -> bool:
    """Whether `value` is a sealed value (anything else in a secret field is clear text,
    left by a ksync from before sealing)."""
    return value.startswith(PREFIX)


def sealed_key_id(value: str) -> str:
    """The id of the key that sealed `value`."""
    return value[len(PREFIX) :].split(":", 1)[0]


@dataclass(frozen=True)
class Sealer:
    """Seals and opens secrets with one 32-byte key; `source` says where the key came
    from (a file, an environment variable), for error messages."""

    key: bytes = field(repr=False)
    source: str

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"the secret key from {self.source} is {len(self.key)} bytes, not {KEY_BYTES}")

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def seal(self, secret: str, purpose: str) -> str:
        """`secret` sealed for the field `purpose`."""
        nonce = os.urandom(_NONCE_BYTES)
        data = AESGCM(self.key).encrypt(nonce, secret.encode(), _aad(purpose))
        token = base64.urlsafe_b64encode(nonce + data).decode().rstrip("=")
        return f"{PREFIX}{self.key_id}:{token}"

    def open(self, sealed: str, purpose: str) -> str:
        """The secret in `sealed`; WrongSecretKey when this key did not seal it for
        `purpose` (or the value was altered)."""
        if not is_sealed(sealed):
            raise ValueError(f"a stored {purpose} is not a sealed value")
        kid, _, token = sealed[len(PREFIX) :].partition(":")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = AESGCM(self.key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(purpose))
        except (InvalidTag, ValueError):
            if kid != self.key_id:
                raise WrongSecretKey(
                    f"the store's secrets were sealed with secret key {kid}, but the key from "
                    f"{self.source} is key {self.key_id}: start with the key the store was "
                    "sealed with (--secret-key-file, KSYNC_SECRET_KEY_FILE or KSYNC_SECRET_KEY)"
                ) from None
            raise WrongSecretKey(
                f"a stored {purpose} sealed with secret key {kid} (the key from {self.source}) "
                "does not open: the value was altered in the store"
            ) from None
        return plain.decode()


def _aad(purpose: str) -> bytes:
    return b"ksync:" + purpose.encode()
