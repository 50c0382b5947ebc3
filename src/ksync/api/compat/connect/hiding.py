"""Secret values in connector configs: hidden (`[hidden]`) when a config is stored and
again when it is shown, so configs stored by an earlier ksync are covered too. The secrets
themselves live only in the instance's security settings.

JAAS values are read by a tokenizer (`jaas_options`), not by an unanchored regex: every
character is looked at a bounded number of times, so the cost is linear in the value's
length. A regex searched at every start position backtracks over each long word and
costs the square of the length; Python's `re` holds the interpreter lock meanwhile, so
one request froze the API, the controller and every member (30 000 characters: 8.7 s).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

HIDDEN = "[hidden]"


# Words and endings of config keys whose values are secrets, in any connector or client
# config (Kafka clients, schema registry, OAuth, cloud credentials).
_SECRET_WORDS = ("password", "secret", "token", "credential", "authorization", "apikey")


_SECRET_ENDINGS = (
    ".key",
    "basic.auth.user.info",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.certificates",
)


# Anchored at the start (`match`): one pass over the login module's name.
_JAAS_MODULE = re.compile(r"\s*[\w.$]+\s+(required|requisite|sufficient|optional)\b")
# The tokenizer's atoms, each matched at a given position (never searched): a quoted
# string in the unrolled form (no nested quantifier; linear even when unclosed), a bare
# value, a run of spaces; and what ends a key.
_QUOTED = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BARE = re.compile(r'[^\s;"]*')
_SPACE = re.compile(r"\s*")
_NOT_KEY = re.compile(r'[\s;="]')
# A key is looked for this far before its `=`: a longer word is not a key.
_MAX_KEY_CHARS = 256

# Config values longer than this are refused (`config.normalise`) and shown hidden
# without being read: a Connect config value is a setting, not a document.
MAX_VALUE_CHARS = 64 * 1024
# More options than this in one JAAS value is not a login module's config.
MAX_JAAS_OPTIONS = 64


@dataclass(frozen=True)
class JaasOption:
    """One `key=value` of a JAAS config: `value` as written (quotes included) spans
    `start:end` of the text; `quoted` when it is a closed quoted string."""

    key: str
    value: str
    start: int
    end: int
    quoted: bool


class TooManyOptions(ValueError):
    """A JAAS value with more than `MAX_JAAS_OPTIONS` options."""


def jaas_options(text: str) -> list[JaasOption]:
    """Every `key=value` in a JAAS config, in order, in time linear in `len(text)`;
    `TooManyOptions` past `MAX_JAAS_OPTIONS`.

    A value is a quoted string (backslash escapes; an unclosed one runs to the end) or a
    bare token up to a space, `;` or quote. The key is the word just before the `=`
    (empty when there is none), so nothing that looks like an option is missed. The scan
    jumps from `=` to `=` (`str.find`) and reads each value once, so every character is
    looked at a bounded number of times, and Python code runs per option, not per
    character.
    """
    options: list[JaasOption] = []
    pos, n = 0, len(text)
    while (eq := text.find("=", pos)) != -1:
        if len(options) == MAX_JAAS_OPTIONS:
            raise TooManyOptions(f"more than {MAX_JAAS_OPTIONS} key=value options")
        before = text[max(pos, eq - _MAX_KEY_CHARS) : eq].rstrip()
        key = _NOT_KEY.split(before)[-1]
        if len(key) >= _MAX_KEY_CHARS:
            key = ""  # cut by the window: too long to be a key
        start = _SPACE.match(text, eq + 1).end()  # type: ignore[union-attr]
        quoted = _QUOTED.match(text, start) if start < n and text[start] == '"' else None
        if quoted is not None:
            end = quoted.end()
        elif start < n and text[start] == '"':
            end = n  # an unclosed quote: the rest is its value
        else:
            end = _BARE.match(text, start).end()  # type: ignore[union-attr]
        options.append(JaasOption(key, text[start:end], start, end, quoted is not None))
        pos = max(end, eq + 1)
    return options


def is_secret(key: str) -> bool:
    """Whether a config key's value is a secret (hidden when stored and shown)."""
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS) or lowered.endswith(_SECRET_ENDINGS)


def hide_jaas(value: str) -> str:
    """A JAAS config with every option value hidden but `username`: the login module and
    the user name say which identity is used; anything else may be a secret
    (`password`, an OAuth `clientSecret`, a keytab path…)."""
    if len(value) > MAX_VALUE_CHARS or not _JAAS_MODULE.match(value):
        return HIDDEN
    try:
        options = jaas_options(value)
    except TooManyOptions:
        return HIDDEN
    pieces: list[str] = []
    done = 0
    for option in options:
        if option.key == "username":
            continue
        pieces += [value[done : option.start], f'"{HIDDEN}"']
        done = option.end
    pieces.append(value[done:])
    return "".join(pieces)


def hide_secrets(cfg: Mapping[str, str]) -> dict[str, str]:
    """`cfg` as it may be stored and shown: secret values replaced by `[hidden]`.
    Applied when a config is stored and again when it is shown, so configs stored by an
    earlier ksync are covered."""
    out = {}
    for key, value in cfg.items():
        if len(value) > MAX_VALUE_CHARS:
            out[key] = HIDDEN  # refused anyway (`config.normalise`); never read
        elif key.endswith("sasl.jaas.config"):
            out[key] = hide_jaas(value)
        elif is_secret(key):
            out[key] = HIDDEN
        else:
            out[key] = value
    return out
