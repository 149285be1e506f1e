"""What an id chosen by a program (a participant, a program, a principal) may be, in one place.

An id is text a program already uses (an email, an HR id, ``spring-2026``), so it is kept as given,
compared exactly, and usable in every URL: after Unicode normalisation to NFC it is 1-128 characters,
with no space at either end, no control, format, private-use or unassigned characters, no line or
paragraph separators, no ``/`` or ``\\``, and it is not ``.`` or ``..`` (a path segment clients remove).

Ids stay case-sensitive (``Alice`` and ``alice`` are two principals, as in most HR systems), but two
people in one relationship must differ even when case and compatibility forms are ignored
(``mentor-7``, ``MENTOR-7`` and the full-width ``ｍｅｎｔｏｒ－７`` are one person): see ``same_person``.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 128
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
REFUSED_CHARACTERS = frozenset("/\\")


def identifier_problem(value: str) -> str | None:
    """Why ``value`` (already in NFC) cannot be an id, or None."""
    if not 1 <= len(value) <= MAX_LENGTH:
        return f"Give 1 to {MAX_LENGTH} characters."
    if value != value.strip():
        return "Remove the spaces at the start or end."
    if value in (".", ".."):
        return "'.' and '..' cannot be ids."
    for character in value:
        if character in REFUSED_CHARACTERS:
            return "'/' and '\\' are not allowed in ids."
        if unicodedata.category(character) in REFUSED_CATEGORIES:
            return f"Character U+{ord(character):04X} is not allowed in ids (control, format or unassigned)."
    return None


def normalised(value: str) -> str:
    """The form an id is stored and compared in: Unicode NFC."""
    return unicodedata.normalize("NFC", value)


def same_person(first: str, second: str) -> bool:
    """Whether two ids would name one person to a reader: equal once compatibility forms and case are folded."""
    return _folded(first) == _folded(second)


def _folded(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
