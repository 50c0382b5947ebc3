"""User regular expressions: the one place a pattern a user sends is compiled.

Topic patterns (`source.topic_regex` / `exclude_regex`, the Connect face's `topics` /
`topics.exclude`, the Tencent face's `TopicRegularExpression`) are matched against every
source topic at every refresh. Python's `re` backtracks, and holds the interpreter lock
while it does: one pattern like `([a-z0-9-]+)+x` over an ordinary topic name stops the
API, the controller and every member of the process for seconds, doubling with each
character. So user patterns run on RE2 (`google-re2`), whose matching time is linear in
the topic name, and whose program size is capped (`max_mem`). RE2 has no backreferences
and no lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`), nor possessive or atomic groups: such a
pattern is refused with the reason, never run some other way.

Matching is a whole-name match (`fullmatch`), as Kafka's and MirrorMaker 2's topic
patterns are: `orders-.*` selects `orders-eu`, not `old-orders-eu`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import re2

# Longer than any topic pattern people write (a topic name is at most 249 characters),
# short enough that a pattern is never a way to send the server work.
MAX_PATTERN_LENGTH = 1000
# RE2's memory budget for one compiled pattern (its default): a pattern whose program
# would not fit is refused when it is compiled, not while matching.
MAX_PROGRAM_BYTES = 8 << 20

# RE2's errors for constructs Python's `re` has and RE2 does not.
_UNSUPPORTED_ERRORS = (
    "invalid perl operator",
    "invalid escape sequence",
    "bad repetition operator",
    "invalid repetition size",
)
_UNSUPPORTED_HINT = (
    "ksync runs topic patterns on RE2 (linear time), which has no backreferences (\\1), "
    "lookaround ((?=, (?!, (?<=, (?<!), atomic groups or possessive quantifiers"
)


class Pattern(Protocol):
    """What ksync asks of a compiled user pattern."""

    def fullmatch(self, text: str) -> object | None: ...


class PatternError(ValueError):
    """A pattern ksync will not run; the message says why and what is allowed."""


def _options() -> re2.Options:
    options = re2.Options()
    # RE2 would log every refused pattern to stderr: the API answers with it instead.
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    return options


def compile_pattern(field: str, pattern: str) -> Pattern:
    """Compile a user's topic pattern, or raise PatternError naming `field`."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(
            f"{field} is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} are allowed"
        )
    try:
        return re2.compile(pattern, _options())  # type: ignore[no-any-return]
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        # RE2 words a construct it does not have as a syntax error: say which ones those are.
        hint = f": {_UNSUPPORTED_HINT}" if reason.startswith(_UNSUPPORTED_ERRORS) else ""
        raise PatternError(f"{field} is not a valid regular expression ({reason}){hint}") from None


def check_pattern(field: str, pattern: str | None) -> str | None:
    """`pattern` unchanged if it compiles (None passes), else PatternError naming `field`."""
    if pattern is not None:
        compile_pattern(field, pattern)
    return pattern


@dataclass(frozen=True)
class NameSelection:
    """Names chosen by a list and a pattern, minus an exclude pattern: listed in `names`
    or matching `include` (whole name), and not matching `exclude`. Topic and group
    selections both read this way."""

    names: frozenset[str]
    include: Pattern | None
    exclude: Pattern | None

    @classmethod
    def of(
        cls,
        names: Iterable[str],
        include: tuple[str, str | None],
        exclude: tuple[str, str | None],
    ) -> NameSelection:
        """The selection of `names` and the (field, pattern) pairs `include` and `exclude`;
        PatternError naming the field if a pattern cannot run."""

        def compiled(field: str, pattern: str | None) -> Pattern | None:
            return compile_pattern(field, pattern) if pattern else None

        return cls(frozenset(names), compiled(*include), compiled(*exclude))

    @property
    def empty(self) -> bool:
        """Nothing listed and no pattern to include by."""
        return not self.names and self.include is None

    def selects(self, name: str) -> bool:
        """Whether `name` is listed or included, and not excluded."""
        if self.exclude is not None and self.exclude.fullmatch(name):
            return False
        return name in self.names or (
            self.include is not None and self.include.fullmatch(name) is not None
        )
