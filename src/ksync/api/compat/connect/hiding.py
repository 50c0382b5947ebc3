"""Secret values in connector configs: hidden (`[hidden]`) when a config is stored and
again when it is shown, so configs stored by an earlier ksync are covered too. The secrets
themselves live only in the instance's security settings."""

from __future__ import annotations

import re
from collections.abc import Mapping

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


# One JAAS option: key=value, the value quoted (with escapes) or a bare token.
_JAAS_OPTION = re.compile(r'([A-Za-z_][\w.-]*)(\s*=\s*)("(?:[^"\\]|\\.)*"|[^\s;"]+)')


_JAAS_MODULE = re.compile(r"^\s*[\w.$]+\s+(required|requisite|sufficient|optional)\b")


def is_secret(key: str) -> bool:
    """Whether a config key's value is a secret (hidden when stored and shown)."""
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS) or lowered.endswith(_SECRET_ENDINGS)


def hide_jaas(value: str) -> str:
    """A JAAS config with every option value hidden but `username`: the login module and
    the user name say which identity is used; anything else may be a secret
    (`password`, an OAuth `clientSecret`, a keytab path…)."""
    if not _JAAS_MODULE.match(value):
        return HIDDEN
    return _JAAS_OPTION.sub(
        lambda m: m.group(0) if m.group(1) == "username" else f'{m.group(1)}{m.group(2)}"{HIDDEN}"',
        value,
    )


def hide_secrets(cfg: Mapping[str, str]) -> dict[str, str]:
    """`cfg` as it may be stored and shown: secret values replaced by `[hidden]`.
    Applied when a config is stored and again when it is shown, so configs stored by an
    earlier ksync are covered."""
    out = {}
    for key, value in cfg.items():
        if key.endswith("sasl.jaas.config"):
            out[key] = hide_jaas(value)
        elif is_secret(key):
            out[key] = HIDDEN
        else:
            out[key] = value
    return out
