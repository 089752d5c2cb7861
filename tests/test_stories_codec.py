"""The stored form of a report's features (stories/codec.py): exact round trips on real
feeds, garbage that decodes to None and never raises, and the tripwire that holds
``EXTRACTION_VERSION`` to what ``Weigher.extract`` returns."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Iterator

import pytest

from tracker.ingest.items import read_items
from tracker.stories import features as features_module
from tracker.stories.codec import FORMAT, Decoder, encode
from tracker.stories.features import EXTRACTION_VERSION, Features, Weigher
from tracker.stories.lexicon import default_lexicon
from tracker.stories.rarity import default_rarity

from conftest import CORPUS

FEEDS = (
    "chromeext__cnn.mocks.js.xml",
    "chromeext__nytimes.mocks.js.xml",
    "chromeext__20minutos.mocks.js.xml",
    "chromeext__eldiario.mocks.js.xml",
    "feedreader__Rss20MoscowTimes.xml",
    "feedreader__Rss10Minutos20.xml",
    "feedreader__Rss20LeMonde.xml",
    "miniflux__urdu_UTF8.xml",
)
# Headlines that fill the fields real feeds rarely do: events, numbers, agent and target.
HEADLINES = (
    ("UK expels 23 Russian diplomats over the Salisbury attack", "en"),
    ("Russia expels 23 British diplomats two days later", "en"),
    ("Rusia expulsa a 23 diplomáticos británicos", "es"),
    ("Fifth round of NAFTA talks opens in Mexico City", "en"),
    ("Cierra la quinta ronda del TLCAN en la Casa Blanca", "es"),
    ("", "en"),
    ("The", None),
)
LISTS = {"nafta": ["NAFTA", "TLCAN", "T-MEC"], "wall": ["border wall", "muro fronterizo"]}


def _texts() -> Iterator[tuple[str, str, str | None]]:
    for name in FEEDS:
        for item in read_items((CORPUS / "real_feeds" / name).read_bytes(), {}, "file:///f"):
            a = item.article
            yield a.title, a.summary or a.content, a.lang
    for title, lang in HEADLINES:
        yield title, "", lang


TEXTS = list(_texts())


def _weigher(lists: dict[str, list[str]] | None = None) -> Weigher:
    lexicon = default_lexicon().with_lists(lists) if lists else default_lexicon()
    return Weigher(lexicon, default_rarity())


@pytest.mark.parametrize("lists", [None, LISTS], ids=["lexicon", "with-lists"])
def test_every_real_report_round_trips_exactly(lists: dict[str, list[str]] | None) -> None:
    weigher = _weigher(lists)
    decoder = Decoder()
    filled: set[str] = set()
    for title, text, lang in TEXTS:
        features = weigher.extract(title, text, lang)
        line = encode(features)
        assert line is not None and line.startswith(FORMAT + "|")
        assert decoder.decode(line) == features  # floats too, to the last bit
        filled.update(f.name for f in dataclasses.fields(Features) if getattr(features, f.name))
    # The sample exercises every field (else a field's round trip would go untested).
    assert filled == {f.name for f in dataclasses.fields(Features)}
    assert len(TEXTS) > 200


def test_decoded_reports_share_their_strings() -> None:
    weigher = _weigher()
    decoder = Decoder()
    a = decoder.decode(encode(weigher.extract("Fifth round of NAFTA talks opens", "", "en")))
    b = decoder.decode(encode(weigher.extract("NAFTA talks: the fifth round opens", "", "en")))
    assert a is not None and b is not None
    shared = set(a.terms) & set(b.terms)
    assert {"#nafta", "#:5"} <= shared
    by_value = {t: t for t in a.terms}
    assert all(by_value[t] is t for t in b.terms if t in shared)  # one object, not two
    assert a.lang is b.lang


def test_a_term_the_line_cannot_hold_is_not_encoded() -> None:
    features = _weigher().extract("Talks open in Washington", "", "en")
    for bad in ("#list:two words", "a|b"):
        assert encode(dataclasses.replace(features, terms=(*features.terms, bad))) is None
    assert encode(dataclasses.replace(features, events=("",))) is None
    assert encode(dataclasses.replace(features, lang="e n")) is None


def _valid() -> str:
    line = encode(
        _weigher().extract("UK expels 23 Russian diplomats", "Moscow vows to respond", "en")
    )
    assert line is not None
    return line


def test_garbage_decodes_to_none() -> None:
    valid = _valid()
    parts = valid.split("|")
    decoder = Decoder()
    bad: list[object] = [
        None,
        7,
        3.5,
        valid.encode(),  # a BLOB
        "",
        "garbage",
        FORMAT,
        "f0" + valid[2:],  # another format
        valid + "|",  # a field too many
        valid.rsplit("|", 1)[0],  # one too few (cut short)
        valid[: len(valid) // 2].rsplit("|", 1)[0],
        "|".join([*parts[:2], "x", *parts[3:]]),  # n_title not a number
        "|".join([*parts[:2], "-1", *parts[3:]]),
        "|".join([*parts[:2], str(len(parts[6].split()) + 1), *parts[3:]]),  # past the terms
        "|".join([*parts[:3], "nan", *parts[4:]]),
        "|".join([*parts[:4], "inf", *parts[5:]]),
        "|".join([*parts[:5], "1e", *parts[6:]]),
        "|".join([*parts[:6], parts[6].replace(" ", "  ", 1), *parts[7:]]),  # an empty term
        "|".join([*parts[:6], parts[6] + " ", *parts[7:]]),
        "|".join([*parts[:7], " ", *parts[8:]]),
    ]
    for value in bad:
        assert decoder.decode(value) is None, value
    assert decoder.decode(valid) is not None


def test_random_damage_never_raises() -> None:
    valid = _valid()
    rng = random.Random(11)
    decoder = Decoder()
    alphabet = "f1|  #:.e-0123456789abcnai\x00é"
    decoded = 0
    for _ in range(5000):
        chars = list(valid)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                chars[at] = rng.choice(alphabet)
            elif action == 1:
                del chars[at]
            else:
                chars.insert(at, rng.choice(alphabet))
        result = decoder.decode("".join(chars))
        if result is not None:
            decoded += 1
            assert 0 <= result.n_title <= len(result.terms)
            assert "" not in result.terms
    for _ in range(2000):
        noise = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        decoder.decode(noise)
        decoder.decode(FORMAT + "|" + noise)
    assert decoded < 5000  # most damage is caught (a changed term in a well-formed line is not)


# --------------------------------------------------------------------------- tripwire

# sha256 over the encoded features of TEXTS (default lexicon), per EXTRACTION_VERSION.
DIGESTS = {
    1: "9a559e40a9577802b66d8fc088341536b90d344a4e4ea123c3590a9b94f5256f",
}


def _digest(weigher: Weigher) -> str:
    digest = hashlib.sha256()
    for title, text, lang in TEXTS:
        line = encode(weigher.extract(title, text, lang))
        assert line is not None
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def test_extraction_output_is_what_its_version_says() -> None:
    """Fails when ``Weigher.extract`` returns anything else for the fixed sample: stored
    features would then be decoded as if the old extraction still held. Bump
    EXTRACTION_VERSION in tracker/stories/features.py and record the new digest here. (A
    new wordfreq or Python Unicode version changes it too: ``Weigher.key`` covers those in
    production, so record the digest under the same version.)"""
    digest = _digest(_weigher())
    assert digest == DIGESTS.get(EXTRACTION_VERSION), (
        f"extraction output changed: bump EXTRACTION_VERSION (now {EXTRACTION_VERSION}) and"
        f" record {digest!r}"
    )


@pytest.mark.parametrize(
    ("name", "value"), [("TEXT_WORDS", 49), ("MAX_TERMS", 23), ("NUMBER_WEIGHT", 2.4)]
)
def test_the_tripwire_sees_a_small_change(
    monkeypatch: pytest.MonkeyPatch, name: str, value: float
) -> None:
    monkeypatch.setattr(features_module, name, value)
    assert _digest(_weigher()) != DIGESTS[EXTRACTION_VERSION]


def test_the_key_follows_the_lexicon_and_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    plain, listed = _weigher(), _weigher(LISTS)
    assert plain.key == _weigher().key  # stable: not Python's salted hash
    assert plain.key != listed.key  # the config's lists change what extraction returns
    assert 0 < plain.key < 2**63  # an SQLite INTEGER
    monkeypatch.setattr(features_module, "EXTRACTION_VERSION", EXTRACTION_VERSION + 1)
    assert _weigher().key != plain.key
