"""Text helpers shared by every stage: folding and word splitting, language tags, valid text.

Queries and documents are folded (case, accents, ß -> ss) and split into words the same
way, a word being a maximal run of letters/digits after folding: ``split_words`` is
``WORD_RE.findall(fold(text))``, only faster, and ``word_spans`` gives each word's
offsets in the original text (for snippets). Stdlib only.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import operator
import re
import unicodedata

__all__ = [
    "UNSAFE_CONTROLS",
    "WORD_RE",
    "clean_text",
    "fold",
    "fold_with_origin",
    "primary_lang",
    "primary_subtag",
    "split_words",
    "split_words_folded",
    "valid_text",
    "word_bytes",
    "word_spans",
]

WORD_RE = re.compile(r"[^\W_]+")

# ---------------------------------------------------------------------------- folding

# Letters NFKD leaves alone but that readers treat as their base letter(s).
_EXTRA_FOLDS = {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_TABLE_RANGE = 0x250  # Latin-1 + Latin Extended-A/B: the bulk of news text


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fold_char(ch: str) -> str:
    """Fold one character; ``fold`` is exactly this applied char by char."""
    # Compatibility forms first (ℌ -> H) so that case folding sees the base letter.
    folded = _strip_marks(_strip_marks(ch).casefold())
    return "".join(_EXTRA_FOLDS.get(c, c) for c in folded)


class _FoldTable(dict[int, str]):
    """``str.translate`` table for lower-cased chars; unseen chars are folded on first use."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


class _WordTable(dict[int, str]):
    """Like the fold table, but anything that is not a letter or digit becomes a space."""

    def __missing__(self, code: int) -> str:
        words = "".join(c if c.isalnum() else " " for c in _FOLD_TABLE[code])
        self[code] = words
        return words


_FOLD_TABLE = _FoldTable((code, _fold_char(chr(code))) for code in range(_TABLE_RANGE))
_WORD_TABLE = _WordTable()
_ASCII_SEPARATORS = {code: " " for code in range(128) if not chr(code).isalnum()}
_ASCII_WORD_BYTES = bytes(
    ord(chr(code).lower()) if chr(code).isalnum() else ord(" ") for code in range(256)
)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_NOT_SIMPLE = 0  # the byte for a char that folds to neither one letter/digit nor spaces


def _word_byte(codec: str, code: int) -> int:
    """What the char ``code`` encodes in ``codec`` becomes in ``word_bytes``."""
    try:
        ch = bytes([code]).decode(codec)
    except UnicodeDecodeError:
        return _NOT_SIMPLE  # unassigned: never produced by encoding
    folded = fold(ch)
    if len(folded) == 1 and folded.isascii() and folded.isalnum():
        return ord(folded)
    if folded and not any(c.isalnum() for c in folded):
        return ord(" ")  # "…" folds to "...": still nothing but a word break
    return _NOT_SIMPLE  # ß -> ss, œ -> oe, ™ -> tm, µ -> μ: split_words' general path


def _fold_run(match: re.Match[str]) -> str:
    return match.group().translate(_FOLD_TABLE)


def _word_run(match: re.Match[str]) -> str:
    return match.group().translate(_WORD_TABLE)


def fold(text: str) -> str:
    """Case- and accent-fold ``text`` (México -> mexico, Straße -> strasse)."""
    # lower() is C-fast and, followed by the table, equals _fold_char on every code
    # point (checked exhaustively in the tests); only non-ASCII runs need the table.
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return _NON_ASCII_RUN.sub(_fold_run, lowered)


def _encode_words(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: fold a run of non-ASCII chars to word chars and spaces."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return error.object[error.start : error.end].translate(_WORD_TABLE), error.end


# An encode error handler is called once per run of non-ASCII chars, with no regex scan
# and no match objects: the cheapest way to fold the few accented letters of news text.
codecs.register_error("tracker-fold-words", _encode_words)


def word_bytes(text: str) -> bytes | None:
    """``text`` folded to one byte per char, letters and digits as ASCII, the rest spaces.

    The result's words are ``split_words(text)`` at the offsets ``word_spans`` gives.
    None when a char folds to something else (ß -> ss, ™ -> tm, a combining accent ->
    nothing, a letter outside Windows-1252), where ``split_words`` takes its general path.
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORD_BYTES)
    # Text of Latin-1 chars is stored one byte per char, so encoding it is a copy; else
    # Windows-1252 adds the typographic quotes, dashes and ellipsis of news text. Both
    # encode in C ("replace" needs no handler call); a table then folds each byte.
    marks = text.count("?")
    data = text.encode("latin-1", "replace")
    table = _LATIN1_WORD_BYTES
    if data.count(b"?") != marks:  # some char is not Latin-1
        data = text.encode("cp1252", "replace")
        table = _CP1252_WORD_BYTES
        if data.count(b"?") != marks:
            return None
    data = data.translate(table)
    # An int operand: ``bytes in bytes`` first tries the operand as an int, at the cost of
    # a TypeError raised and cleared.
    return None if _NOT_SIMPLE in data else data


def split_words(text: str) -> list[str]:
    """The folded words of ``text``: maximal runs of letters/digits after folding."""
    folded = word_bytes(text)
    if folded is not None:
        return folded.decode("ascii").split()
    return _split_words_general(text)


def split_words_folded(text: str) -> tuple[list[str], str | None]:
    """``split_words(text)``, and ``word_bytes(text)`` as a str when there is one.

    Word k of the list is then the k-th run of non-spaces of that str, at the offsets
    in ``text`` that ``word_spans`` gives.
    """
    folded = word_bytes(text)
    if folded is not None:
        words = folded.decode("ascii")
        return words.split(), words
    return _split_words_general(text), None


def _split_words_general(text: str) -> list[str]:
    if text.isascii():
        data = text.encode("ascii")
    else:
        try:
            data = text.lower().encode("ascii", "tracker-fold-words")
        except UnicodeEncodeError:  # a script whose letters stay non-ASCII when folded
            folded = _NON_ASCII_RUN.sub(_word_run, text.lower())
            return folded.translate(_ASCII_SEPARATORS).split()
    # bytes.translate is a plain 256-entry table: by far the cheapest way to lower-case
    # and blank out punctuation in one step.
    return data.translate(_ASCII_WORD_BYTES).decode("ascii").split()


# Built once fold() exists: what each byte of the two codecs becomes in word_bytes().
_LATIN1_WORD_BYTES = bytes(_word_byte("latin-1", code) for code in range(256))
_CP1252_WORD_BYTES = bytes(_word_byte("cp1252", code) for code in range(256))


def fold_with_origin(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` and return, for each folded char, the index of its source char."""
    if text.isascii() or all(map(_folds_simply, set("".join(_NON_ASCII_RUN.findall(text))))):
        return fold(text), list(range(len(text)))
    parts: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        part = fold(ch)  # folding is char by char, so the parts add up to fold(text)
        parts.append(part)
        origin.extend([index] * len(part))
    return "".join(parts), origin


@functools.cache
def _folds_simply(ch: str) -> bool:
    """``ch`` folds to one char that is a word char exactly when ``ch`` is one."""
    folded = fold(ch)
    return len(folded) == 1 and folded.isalnum() == ch.isalnum()


class _MaskTable(dict[int, str]):
    """Non-ASCII char -> "a" if it is a word char, else a space."""

    def __missing__(self, code: int) -> str:
        mask = "a" if chr(code).isalnum() else " "
        self[code] = mask
        return mask


_MASK_TABLE = _MaskTable()
_ASCII_MASK = bytes(ord("a") if chr(c).isalnum() else ord(" ") for c in range(128)) + b" " * 128


class _NotOneToOne(Exception):
    """A char folds to several chars or changes word-ness: offsets need the slow path."""


def _encode_mask(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a run of non-ASCII chars -> "a" per word char, else a space."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    if not all(map(_folds_simply, run)):
        raise _NotOneToOne
    return run.translate(_MASK_TABLE), error.end


codecs.register_error("tracker-word-mask", _encode_mask)


def _word_mask(text: str) -> bytes | None:
    """One byte per char of ``text``, ``a`` for word chars and a space otherwise.

    The words of the mask (runs of ``a``) are exactly the words ``split_words``
    returns, at the same offsets and of the same lengths; None when some char folds to
    several chars or changes word-ness (``ß``, combining accents), where they are not.
    """
    try:
        return text.encode("ascii", "tracker-word-mask").translate(_ASCII_MASK)
    except _NotOneToOne:
        return None


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets in ``text`` of the words ``split_words`` returns."""
    # One byte per char, spaces between words: the text's own word boundaries.
    mask = word_bytes(text)
    if mask is None:
        mask = _word_mask(text)  # any script whose chars fold one to one
    if mask is None:
        folded, origin = fold_with_origin(text)
        origin.append(len(text))
        # A word ends where the next visible char starts, so stripped accents stay inside
        # (but covers at least its own source char: ¼ folds to the two words 1 and 4).
        return [
            (origin[m.start()], max(origin[m.end()], origin[m.end() - 1] + 1))
            for m in WORD_RE.finditer(folded)
        ]
    # Splitting the mask on single spaces gives words and empty pieces; running lengths
    # then give every offset with C-level steps only.
    lengths = list(map(len, mask.split(b" ")))
    starts = list(
        itertools.compress(itertools.accumulate(map((1).__add__, lengths), initial=0), lengths)
    )
    return list(zip(starts, map(operator.add, starts, filter(None, lengths)), strict=True))


# ---------------------------------------------------------------------------- language tags

_SUBTAG_SEPARATOR = re.compile(r"[-_]")


def primary_subtag(tag: str | None) -> str:
    """``es-MX`` -> ``es``: a language tag's first subtag, lower-cased; "" when empty.

    Not checked further, so a topic's ``lang: [english]`` stays "english" and matches
    nothing rather than becoming "" and matching articles without a language.
    """
    if not tag:
        return ""
    return _SUBTAG_SEPARATOR.split(tag.strip().lower(), maxsplit=1)[0]


def primary_lang(tag: str | None) -> str | None:
    """``es-MX`` -> ``es``; None for empty or nonsense values (not 2-3 letters)."""
    primary = primary_subtag(tag)
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def valid_text(text: str) -> str:
    """Text SQLite and every encoder accept: lone surrogates (from hostile JSON or numeric
    character references) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


# NUL and the bidirectional controls: embeddings and overrides (U+202A–U+202E), isolates
# (U+2066–U+2069), the LRM/RLM marks and the Arabic letter mark. A NUL cuts C strings (and
# some terminals) short; an override makes "gpj.exe" read as "exe.jpg" and reorders what a
# title or an error seems to say. Feeds and servers have no business sending either.
UNSAFE_CONTROLS = "\x00" + "".join(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
UNSAFE_CONTROLS += "\u200e\u200f\u061c"
_DELETE_UNSAFE = dict.fromkeys(map(ord, UNSAFE_CONTROLS))


def clean_text(text: str) -> str:
    """``valid_text`` without NUL and the bidirectional controls: what tracker stores of a
    feed's or a server's text, and what it prints."""
    text = valid_text(text)
    # Cheap where it matters (20 KB of text: a regex search took 165 µs; this takes 0.4 µs
    # for ASCII, which can only carry the NUL, and about 100 µs otherwise, one fast scan per
    # character looked for), and nothing is copied when there is nothing to remove.
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    if any(c in text for c in UNSAFE_CONTROLS):
        return text.translate(_DELETE_UNSAFE)
    return text
