"""Where the key that seals the store's secrets comes from (`ksync.store.sealed`).

In order: the key itself in the environment (`KSYNC_SECRET_KEY`), a key file the operator
names (`--secret-key-file`, or `KSYNC_SECRET_KEY_FILE`), else `secret.key` in the data
directory, generated (mode 0600) on first start. A key file holds the key as one line of
base64url (32 bytes). Every server and worker sharing a store needs the same key.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from pathlib import Path

from ksync.store.db import private_dir
from ksync.store.sealed import KEY_BYTES, Sealer, key_id

log = logging.getLogger(__name__)

KEY_ENV = "KSYNC_SECRET_KEY"
KEY_FILE_NAME = "secret.key"


def new_key() -> bytes:
    """A fresh random key."""
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """A key as a key file holds it."""
    return base64.urlsafe_b64encode(key).decode()


def parse_key(text: str, source: str) -> bytes:
    """The key in `text` (base64url of 32 bytes); ValueError naming `source` otherwise,
    without echoing what it holds."""
    value = text.strip()
    try:
        key = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"{source} does not hold a secret key: it must be {KEY_BYTES} bytes in base64url "
            "on one line (as ksync writes it; `python -c 'import os, base64; "
            "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'` makes one)"
        )
    return key


def read_key_file(path: Path, source: str) -> Sealer:
    """The key in the file `path`; ValueError naming `source` when it cannot be read."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"{source}: there is no file {path}") from None
    except OSError as exc:
        raise ValueError(f"{source}: cannot read {path} ({exc.strerror})") from None
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("secret key file %s is readable by other users: chmod 600 it", path)
    return Sealer(parse_key(text, f"{source} ({path})"), f"{source} ({path})")


def write_key_file(path: Path, key: bytes) -> None:
    """Write `key` to a new file `path`, mode 0600, all at once: a process reading it
    meanwhile sees no file or the whole key. FileExistsError when `path` exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(encode_key(key) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if it exists: two first starts agree on one key
    finally:
        tmp.unlink(missing_ok=True)


def load_sealer(key_file: Path | None, key_text: str | None, data_dir: Path) -> Sealer:
    """The sealer of this process's key, from the first source given (see the module's
    docstring); generates the data directory's key on first start. ValueError with a
    sentence naming the source when a key cannot be had."""
    if key_text is not None and key_file is not None:
        raise ValueError(
            f"--secret-key-file: give the secret key either in {KEY_ENV} or in a file "
            "(--secret-key-file / KSYNC_SECRET_KEY_FILE), not both"
        )
    if key_text is not None:
        return Sealer(parse_key(key_text, KEY_ENV), KEY_ENV)
    if key_file is not None:
        return read_key_file(key_file, "--secret-key-file")
    path = data_dir / KEY_FILE_NAME
    source = "the data directory's key file"
    if not path.exists():
        private_dir(data_dir)
        key = new_key()
        try:
            write_key_file(path, key)
        except FileExistsError:
            pass  # another process started first: use its key
        else:
            log.warning(
                "generated secret key %s in %s: it seals the store's secrets; keep it with "
                "the store's backups, and give it to every worker (--secret-key-file)",
                key_id(key),
                path,
            )
    return read_key_file(path, source)
