"""Every field limit, once: the HTTP models, the domain and the wire messages all use these.

A value the API accepts must be one the messages it causes can carry — otherwise the relay could not build the
message and would have to park the event (``tests/contracts/test_field_limits.py`` walks every contract and every
request body to hold this). Change a limit here and everywhere follows; loosening a message's limit is a compatible
change within a major version, tightening it is not.

The text types also refuse what must never reach a mail header, a log line or another system's screen unchecked:
control characters (CR, LF, ESC, BEL, …) and the bidirectional overrides that make text display other than it
reads. Multi-line texts (comments) may hold line breaks and tabs, nothing else of the kind.

Plain Python (no pydantic), so that the services' domains can use the same numbers; the pydantic types made of
them are in :mod:`contracts.common`.
"""

from __future__ import annotations

import unicodedata

EMAIL_MAX = 254
"""RFC 5321's longest usable address (a path of 256 octets less the angle brackets)."""
NAME_MAX = 100
"""People's first and last names."""
SHORT_TEXT_MAX = 200
"""One-line texts: references, descriptions, article numbers, city and street."""
LONG_TEXT_MAX = 4000
"""Comments and other multi-line texts."""
CUSTOMER_NUMBER_MAX = 32
INVOICE_NUMBER_MAX = 40
POSTAL_CODE_MAX = 20

# Bidirectional embeddings, overrides and isolates (U+202A–202E, U+2066–2069) and the invisible marks.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def unsafe_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of ``value`` that text may not hold (None: none)."""
    for ch in value:
        if multiline and ch in "\n\t":
            continue
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return ch
    return None


__all__ = [
    "BIDI_CONTROLS",
    "CUSTOMER_NUMBER_MAX",
    "EMAIL_MAX",
    "INVOICE_NUMBER_MAX",
    "LONG_TEXT_MAX",
    "NAME_MAX",
    "POSTAL_CODE_MAX",
    "SHORT_TEXT_MAX",
    "unsafe_character",
]
