"""Warnings about a valid config that probably does not do what its author meant: lowercase
and/or/not in a query (plain search words), `lang` values that are not ISO 639-1 codes."""

from __future__ import annotations

from tracker.config.schema import Config
from tracker.topics.query import QuerySyntaxError, tokenize

# ISO 639-1: the two-letter codes feeds tag their language with (article languages are
# compared by their primary subtag, `es-MX` -> `es`).
_ISO_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu "
)
ISO_639_1 = frozenset(_ISO_CODES.split())

# Names people write instead of the code (English and the language's own name).
_LANGUAGE_NAMES = {
    "english": "en", "spanish": "es", "espanol": "es", "español": "es", "french": "fr",
    "francais": "fr", "français": "fr", "german": "de", "deutsch": "de", "italian": "it",
    "portuguese": "pt", "portugues": "pt", "português": "pt", "dutch": "nl", "russian": "ru",
    "chinese": "zh", "japanese": "ja", "korean": "ko", "arabic": "ar", "hindi": "hi",
    "catalan": "ca", "català": "ca", "polish": "pl", "turkish": "tr", "swedish": "sv",
    "greek": "el", "hebrew": "he", "ukrainian": "uk", "czech": "cs", "danish": "da",
    "finnish": "fi", "norwegian": "no", "romanian": "ro", "hungarian": "hu",
    "eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "ita": "it",
    "por": "pt", "sp": "es",
}  # fmt: skip

_BARE_OPERATORS = ("and", "or", "not")


def query_warnings(query: str) -> list[str]:
    """Lowercase (or mixed-case) and/or/not outside quotes: searched as words, which is
    rarely what was meant (`acero or aranceles` needs both words and the word "or")."""
    try:
        tokens = tokenize(query)
    except QuerySyntaxError:  # reported as an error elsewhere
        return []
    out = []
    for tok in tokens:
        if tok.kind == "TERM" and tok.text.lower() in _BARE_OPERATORS:
            op = tok.text.upper()
            out.append(
                f"column {tok.column}: '{tok.text}' is searched as a word; did you mean {op}?"
                f' (operators are uppercase; write "{tok.text}" in quotes to search the word)'
            )
    return out


def lang_warning(value: str) -> str | None:
    """A `lang` value whose primary subtag is not an ISO 639-1 code, with a hint."""
    primary = value.replace("_", "-").split("-")[0].lower()
    if primary in ISO_639_1:
        return None
    guess = _LANGUAGE_NAMES.get(value.lower()) or _LANGUAGE_NAMES.get(primary)
    hint = f"did you mean {guess}?" if guess else "use a code such as en, es or pt-BR"
    return f"lang '{value}' is not an ISO 639-1 code, so no article will carry it ({hint})"


def config_warnings(config: Config) -> list[str]:
    """Every warning about ``config``, each naming the key it is about."""
    out = []
    for i, feed in enumerate(config.feeds):
        if feed.lang is not None and (w := lang_warning(feed.lang)):
            out.append(f"feeds[{i}].lang: {w}")
    for name, topic in config.topics.items():
        out += [f"topics.{name}.query: {w}" for w in query_warnings(topic.query)]
        for value in topic.lang:
            if w := lang_warning(value):
                out.append(f"topics.{name}.lang: {w}")
    return out
