"""Masking secrets in text that leaves tracker's control: stored errors, CLI output, logs.

A ``Redactor`` is built from the configured secrets (``Settings.secrets``). It masks each
one as written and in the forms a server or a library may echo it in:

- percent-encoded, in any mix of raw and ``%XX`` bytes (either hex case) and ``+`` for a
  space, as a redirect's Location or a URL in an error shows it;
- escaped the way ``repr()`` and JSON write it (``\\xf1``, ``\\u00f1``, ``\\xc3\\xb1``);
- base64 (standard and URL-safe), also *inside* a longer base64 string: an SMTP server
  answering ``535 … <base64 of \\0user\\0password>`` or an echoed ``Authorization: Basic``
  header. Base64 packs 3 bytes into 4 characters, so a secret inside a blob is encoded one
  of three ways depending on its offset; the characters that depend on the secret alone
  are the same whatever surrounds it, and those are what is masked.

It also masks, whatever their value, the values of URL query parameters named like a
credential (``?token=``, ``api_key=``, ``access_token=``) and the password of a URL's
``user:password@``: a server may redirect to a URL carrying a token nobody configured.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import overload

MASK = "***"

# Query parameters that carry credentials in URLs (private feeds, paid APIs). The config
# uses the same names to find the secrets of feed URLs.
SECRET_PARAM = re.compile(r"token|key|secret|auth(?!or)|sig|pass|session|access|credential", re.I)

# ``?name=value`` / ``&name=value`` where the name looks like a credential; the value runs
# to the next separator (or the end of a quoted or bracketed URL).
_PARAM_VALUE = re.compile(
    r"(?P<head>[?&;](?P<name>[^=&;#\s?'\"<>]*)=)(?P<value>[^&;#\s'\"<>]+)",
)
# ``scheme://user:password@host``: the password part.
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'\"<>]*:)[^/\s@'\"<>]+@")

# Below this length a secret is masked only as written: the derived forms of two or three
# characters would match everywhere.
_MIN_DERIVED = 4
# The shortest head of a secret masked at the end of a text (where a cut may have left it).
_MIN_CUT = 4


def _char_forms(char: str) -> list[str]:
    """Every way one character of a secret may be written in an echo of it."""
    raw = char.encode("utf-8")
    forms = [re.escape(char)]
    if char == " ":
        forms.append(r"\+")
    forms.append("".join(f"%{_hex_any_case(b)}" for b in raw))
    code = ord(char)
    if code > 0x7E or code < 0x20:
        if code <= 0xFF:
            forms.append(rf"\\x{_hex_any_case(code)}")
        if code <= 0xFFFF:
            forms.append(rf"\\u{_hex_any_case(code >> 8)}{_hex_any_case(code & 0xFF)}")
        else:
            forms.append(rf"\\U{code:08x}")
        # bytes' repr: each UTF-8 byte as \xNN
        forms.append("".join(rf"\\x{_hex_any_case(b)}" for b in raw))
    return forms


def _hex_any_case(byte: int) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{byte:02x}")


def _encoded_pattern(secret: str) -> str:
    """A regex for ``secret`` with each character raw, percent-encoded or escaped."""
    return "".join(f"(?:{'|'.join(_char_forms(c))})" for c in secret)


def base64_cores(secret: str) -> list[str]:
    """The base64 text that encodes ``secret`` at each of the three byte offsets it can have
    inside a longer string, without the characters its neighbours also shape."""
    data = secret.encode("utf-8")
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        start = -(-8 * offset // 6)  # first character made of the secret's bits alone
        end = (8 * (offset + len(data))) // 6  # past the last one
        core = encoded[start:end]
        if core:
            cores.append(core)
    return cores


class Redactor:
    """Masks a set of secrets (and credential-like URL parameters) in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: frozenset[str] = frozenset(s for s in secrets if s)
        patterns: list[str] = []
        # Longest first, so a secret containing another is masked whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) < _MIN_DERIVED:
                patterns.append(re.escape(secret))
                continue
            patterns.append(_encoded_pattern(secret))
            for core in base64_cores(secret):
                patterns.append(re.escape(core))
                urlsafe = core.translate(str.maketrans("+/", "-_"))
                if urlsafe != core:
                    patterns.append(re.escape(urlsafe))
        self._pattern = re.compile("|".join(patterns)) if patterns else None
        # Each head of a secret (its first k characters, longest first) by its last few.
        self._heads: dict[str, list[str]] = {}
        for secret in self.secrets:
            for k in range(_MIN_CUT, len(secret)):
                self._heads.setdefault(secret[k - _MIN_CUT : k], []).append(secret[:k])
        for heads in self._heads.values():
            heads.sort(key=len, reverse=True)

    def _cut_secret(self, text: str) -> str:
        """Mask the start of a secret that ends ``text``: text cut to a length (a server's
        answer kept to 300 characters) may have cut a secret, and its head is half of it."""
        for head in self._heads.get(text[-_MIN_CUT:], ()):
            if text.endswith(head):
                return text[: -len(head)] + MASK
        return text

    def __or__(self, other: Redactor) -> Redactor:
        """A redactor masking the secrets of both (a rejected config's and the running one's)."""
        return Redactor(self.secrets | other.secrets)

    @overload
    def __call__(self, text: str) -> str: ...
    @overload
    def __call__(self, text: None) -> None: ...
    def __call__(self, text: str | None) -> str | None:
        """``text`` with every secret masked (None stays None)."""
        if not text:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if self._heads:
            text = self._cut_secret(text)
        # What the two URL patterns need, looked for first: most text (a feed URL without a
        # query, a log line) has neither, and ``in`` is one C scan where a regex search
        # tries each position (the store masks every feed URL at each start and reload).
        if "@" in text:
            text = _USERINFO.sub(lambda m: m["head"] + MASK + "@", text)
        if "=" in text:
            text = _PARAM_VALUE.sub(_mask_param, text)
        return text


def _mask_param(m: re.Match[str]) -> str:
    if m["value"] == MASK or not SECRET_PARAM.search(m["name"]):
        return m[0]
    return m["head"] + MASK


NO_SECRETS = Redactor()


def mask_url(url: str) -> str:
    """A URL fit to show: credential-like query values and a userinfo password masked."""
    return NO_SECRETS(url)
