"""How personal data looks where it is stored (the privacy scheme, ``persistence.privacy``; ADR 009).

A person is stored as a *subject*: ``~`` and 32 random hex digits. Once erased, a subject reads as the
placeholder ``erased:`` and the same digits, everywhere. A summary written from stored values marks the
subjects and ciphertexts it holds with private-use characters (which no id may contain), so that they can
be named and opened when the summary is read.
"""

from __future__ import annotations

import re
import unicodedata

SUBJECT = re.compile(r"^~([0-9a-f]{32})$")
PLACEHOLDER = "erased:"
ERASED = re.compile(r"^erased:([0-9a-f]{32})$")
WHO = ("\ue000", "\ue001")  # around a subject's digits, in a summary
TEXT = ("\ue002", "\ue003")  # around a ciphertext, in a summary
WHO_IN_SUMMARY = re.compile("\ue000([0-9a-f]{32})\ue001")
TEXT_IN_SUMMARY = re.compile("\ue002([^\ue003]*)\ue003")


def is_reserved(participant_id: str) -> bool:
    """Ids a program may not choose: they read as subjects or placeholders (in any case or compatibility form,
    so that nothing can pass for one)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", participant_id).casefold())
    return folded.startswith(("~", PLACEHOLDER)) or participant_id.startswith(("~", PLACEHOLDER))
