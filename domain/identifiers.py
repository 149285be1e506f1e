"""What an id chosen by a program (a participant, a program, a principal) may be, in one place.

An id is text a program already uses (an email, an HR id, ``spring-2026``), so it is kept as given,
compared exactly, and usable in every URL: after Unicode normalisation to NFC it is 1-128 characters,
with no space at either end, no control, format, private-use, invisible or unassigned characters, no
line or paragraph separators, no ``/`` or ``\\``, not starting with a combining mark, with letters of one
writing system (Chinese, Japanese and Korean count as one), and it is not ``.`` or ``..`` (a path
segment clients remove).

Ids stay case-sensitive (``Alice`` and ``alice`` are two principals, as in most HR systems), but two
people in one relationship must differ even when case and compatibility forms are ignored
(``mentor-7``, ``MENTOR-7`` and the full-width ``ｍｅｎｔｏｒ－７`` are one person): see ``same_person``.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 128
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
REFUSED_CHARACTERS = frozenset("/\\")
# Characters that show nothing (Unicode's default-ignorable and blank fillers): an id made with one would
# look like another id, or like nothing.
INVISIBLE = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180E, 0x180F, 0x2800,
                       0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
# Letters of one writing system per id (so a Cyrillic "а" cannot pass for a Latin "a"); Japanese, Chinese
# and Korean ids mix their scripts, which count as one.
EAST_ASIAN = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "HALFWIDTH", "FULLWIDTH", "IDEOGRAPHIC"})


def identifier_problem(value: str) -> str | None:
    """Why ``value`` (already in NFC) cannot be an id, or None."""
    if not 1 <= len(value) <= MAX_LENGTH:
        return f"Give 1 to {MAX_LENGTH} characters."
    if value != value.strip():
        return "Remove the spaces at the start or end."
    if value in (".", ".."):
        return "'.' and '..' cannot be ids."
    if unicodedata.category(value[0]).startswith("M"):
        return "An id cannot start with a combining mark."
    for character in value:
        if character in REFUSED_CHARACTERS:
            return "'/' and '\\' are not allowed in ids."
        if unicodedata.category(character) in REFUSED_CATEGORIES or ord(character) in INVISIBLE:
            return (f"Character U+{ord(character):04X} is not allowed in ids "
                    "(control, format, invisible or unassigned).")
    scripts = {_script(character) for character in value if character.isalpha()}
    if len(scripts) > 1:
        return f"An id's letters come from one writing system, not {' and '.join(sorted(scripts))}."
    return None


def _script(letter: str) -> str:
    """A letter's writing system, from its Unicode name (LATIN SMALL LETTER A: LATIN)."""
    first = unicodedata.name(letter, "UNKNOWN").split()[0]
    return "EAST ASIAN" if first in EAST_ASIAN else first


def normalised(value: str) -> str:
    """The form an id is stored and compared in: Unicode NFC."""
    return unicodedata.normalize("NFC", value)


def same_person(first: str, second: str) -> bool:
    """Whether two ids would name one person to a reader: equal once compatibility forms and case are folded."""
    return _folded(first) == _folded(second)


def _folded(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


# Letters a reader takes for another's plain form that neither case folding nor decomposition joins.
READ_ALIKE = str.maketrans({"ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ß": "ss", "æ": "ae", "œ": "oe"})


# Cyrillic and Greek letters a reader takes for Latin ones (after case folding), for ``skeleton``.
LOOK_ALIKE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o",
    "р": "p", "ԛ": "q", "с": "c", "ѕ": "s", "т": "t", "у": "y", "ү": "y", "х": "x", "ԝ": "w", "ԁ": "d", "ɡ": "g",
    "ɑ": "a", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w",
})


def words(text: str) -> list[str]:
    """The words of ``text`` as a reader sees them: ``read_alike``, Cyrillic and Greek look-alikes read as Latin
    letters, invisible characters (zero-width spaces and joiners, soft hyphens) left out, and split at
    everything that is neither a letter, a digit nor a mark (spaces, hyphens of any kind, dots, underscores)."""
    found, word = [], ""
    for c in read_alike(text).translate(LOOK_ALIKE):
        category = unicodedata.category(c)
        if category == "Cf":
            continue
        if c.isalnum() or category.startswith("M"):
            word += c
        elif word:
            found.append(word)
            word = ""
    return [*found, word] if word else found


def spelled_in(text: str, name: str) -> bool:
    """Whether whole words of ``text``, one after another, spell ``name``'s words run together: ``mentee 12``,
    ``Mentee_12``, ``mentee12`` and ``m\u0435ntee\u2011-12`` spell ``mentee-12``; ``Withdrawal 2024`` does not spell
    ``al-2024`` (a name is never found inside a longer word this way)."""
    target = "".join(words(name))
    if not target:
        return False
    found = words(text)
    for start in range(len(found)):
        joined = ""
        for word in found[start:]:
            joined += word
            if joined == target:
                return True
            if not target.startswith(joined):
                break
    return False


def read_alike(text: str) -> str:
    """``text`` as a reader matches a name in it: compatibility forms, case and accents folded, dotless and
    dotted i as i (``dıyarbakır``, ``DİYARBAKIR`` and ``Diyarbakir`` read alike)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(READ_ALIKE)
    return unicodedata.normalize("NFKC", plain).casefold()
