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

import html
import re
import unicodedata
import urllib.parse

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


# Letters of other scripts a reader takes for Latin ones (after case folding), for ``words``: Cyrillic, Greek,
# Armenian, small capitals and a few symbols.
LOOK_ALIKE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o",
    "р": "p", "ԛ": "q", "с": "c", "ѕ": "s", "т": "t", "у": "y", "ү": "y", "х": "x", "ԝ": "w", "ԁ": "d", "ɡ": "g",
    "ɑ": "a", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    "ո": "n", "օ": "o", "ս": "u", "ց": "g", "հ": "h", "զ": "q", "ք": "p", "ա": "w",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l",
    "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y",
    "ᴢ": "z", "℮": "e",
})
# What shows nothing (Unicode's default-ignorable code points, e.g. zero-width spaces and joiners, soft hyphens,
# the combining grapheme joiner, variation selectors, Hangul fillers): left out of words.
IGNORABLE_RANGES = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
# Characters that make text show in another order than it is written (U+202A-U+202E, U+2066-U+2069).
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# How German and Nordic names are written without their letters: a reader takes "bjoern" for "björn".
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ø": "oe", "Ø": "Oe",
                         "å": "aa", "Å": "Aa"})
# Capitals of other scripts a reader takes for Latin capitals, mapped before case folding (folded, several of
# them become letters that look like other Latin ones: Greek Ν is N, its lowercase ν looks like v): Greek,
# Cyrillic and Lisu (an alphabet of Latin capital look-alikes).
CAPITALS = str.maketrans({
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "ꓮ": "A", "ꓐ": "B", "ꓚ": "C", "ꓓ": "D", "ꓰ": "E", "ꓝ": "F", "ꓖ": "G", "ꓧ": "H", "ꓲ": "I", "ꓙ": "J", "ꓗ": "K",
    "ꓡ": "L", "ꓟ": "M", "ꓠ": "N", "ꓳ": "O", "ꓑ": "P", "ꓣ": "R", "ꓢ": "S", "ꓔ": "T", "ꓴ": "U", "ꓦ": "V", "ꓪ": "W",
    "ꓫ": "X", "ꓬ": "Y", "ꓜ": "Z",
})
NUMBER = re.compile(r"[0-9]+")
MARKUP = re.compile(r"<!--.*?-->|<[^<>]*>", re.S)  # HTML tags and comments, for reading a text as HTML


def _ignorable(c: str) -> bool:
    code = ord(c)
    return unicodedata.category(c) == "Cf" or any(low <= code <= high for low, high in IGNORABLE_RANGES)


def words(text: str) -> list[str]:
    """The words of ``text`` as a reader sees them: ``read_alike``, look-alike letters of other scripts read as
    Latin ones, digits of any script as 0-9 (a number by its value, within a word too: ``emp00451`` reads
    ``emp451``), what shows nothing left out, and split at everything that is neither a letter, a digit nor a
    mark (spaces, punctuation, hyphens of any kind, underscores)."""
    found, word = [], ""
    for c in read_alike(text.translate(CAPITALS)).translate(LOOK_ALIKE):
        if _ignorable(c):
            continue
        digit = unicodedata.decimal(c, None)
        if digit is not None:
            c = str(digit)
        if c.isalnum() or unicodedata.category(c).startswith("M"):
            word += c
        elif word:
            found.append(word)
            word = ""
    found = [*found, word] if word else found
    return [NUMBER.sub(lambda number: number.group().lstrip("0") or "0", w) for w in found]


def spelled_in(found: list[str], name: str) -> bool:
    """Whether whole words of a text (``found``, its ``words``) spell ``name``: its words run together, one after
    another (``mentee 12``, ``Mentee_12``, ``mentee12``, ``m\u0435ntee\u2011-12`` for ``mentee-12``), or side by
    side in any order (``Garcia, Jose`` for ``jose.garcia``). A name is never found inside a longer word:
    ``Christian`` does not name ``ian``, nor ``Withdrawal 2024`` ``al-2024``."""
    wanted = words(name)
    target = "".join(wanted)
    if not target:
        return False
    for start in range(len(found)):
        joined = ""
        for word in found[start:]:
            joined += word
            if joined == target:
                return True
            if not target.startswith(joined):
                break
    if len(wanted) > 1:
        wanted.sort()
        return any(sorted(found[start:start + len(wanted)]) == wanted for start in range(len(found)))
    return False


def readings(text: str) -> set[str]:
    """A text as it may be read: as written, as HTML (tags and comments left out, entities read), as URL text,
    and with umlauts written out."""
    as_html = html.unescape(MARKUP.sub("", text))
    found = {text, as_html, urllib.parse.unquote(text), urllib.parse.unquote(as_html)}
    return found | {reading.translate(UMLAUTS) for reading in found}


def shows_other_than_it_reads(text: str) -> bool:
    """Whether any reading of ``text`` holds direction controls (``\u202e24-eeniart`` shows ``trainee-42``)."""
    return any(c in DIRECTION_CONTROLS for reading in readings(text) for c in reading)


def names_person(text: str, participant_id: str) -> bool:
    """Whether ``text`` names the person as a reader would find it: whole words of one of its ``readings``
    spell the id, the name part of an email address (three letters or more), or either with its umlauts
    written out (``bjoern`` for ``björn``)."""
    names = [participant_id]
    local = participant_id.partition("@")[0]
    if "@" in participant_id and len("".join(words(local))) >= 3:
        names.append(local)
    names += [name.translate(UMLAUTS) for name in names if name.translate(UMLAUTS) != name]
    return any(spelled_in(words(reading), name) for reading in readings(text) for name in names)


def read_alike(text: str) -> str:
    """``text`` as a reader matches a name in it: compatibility forms, case and accents folded, dotless and
    dotted i as i (``dıyarbakır``, ``DİYARBAKIR`` and ``Diyarbakir`` read alike)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(READ_ALIKE)
    return unicodedata.normalize("NFKC", plain).casefold()
