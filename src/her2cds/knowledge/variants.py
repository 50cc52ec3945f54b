"""HGVS protein notation for ERBB2 variants: parse 1- or 3-letter forms, normalise to one letter,
and look variants up in the knowledge base's list (aliases included)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from her2cds.knowledge.schema import Variant

THREE_TO_ONE = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*", "Sec": "U",
}
_THREE = "|".join(THREE_TO_ONE)
_THREE_RE = re.compile(f"({_THREE})")

# one-letter grammar, after 3->1 conversion and stripping "p." and parentheses
_POS = r"[A-Z*]\d+"
_PATTERNS = (
    re.compile(r"^(?P<ref>[A-Z])(?P<pos>\d+)(?P<alt>[A-Z*=]|fs\*?\d*|fs)$"),  # substitution / frameshift
    re.compile(rf"^(?P<start>{_POS})(?:_(?P<end>{_POS}))?(?P<kind>del|dup)$"),  # deletion / duplication
    re.compile(rf"^(?P<start>{_POS})_(?P<end>{_POS})ins(?P<ins>[A-Z*]+)$"),  # insertion
    re.compile(rf"^(?P<start>{_POS})(?:_(?P<end>{_POS}))?delins(?P<ins>[A-Z*]+)$"),  # deletion-insertion
    re.compile(r"^(?P<start>[A-Z]\d+)(?P<kind>ins)$"),  # P780ins (unspecified insertion, legacy)
)


class HgvsError(ValueError):
    """Not a protein change in HGVS notation that her2cds understands."""


def normalize_protein(text: str) -> str:
    """Return the canonical one-letter form without ``p.`` (e.g. ``Y772_A775dup``)."""
    raw = text.strip()
    body = raw[2:] if raw[:2] in ("p.", "P.") else raw
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    if not body:
        raise HgvsError(f"{text!r} is empty")
    body = _THREE_RE.sub(lambda m: THREE_TO_ONE[m.group(1)], body)
    body = body.replace("Ter", "*")
    for pattern in _PATTERNS:
        if pattern.match(body):
            return body
    raise HgvsError(f"{text!r} is not HGVS protein notation (e.g. p.S310F or p.Tyr772_Ala775dup)")


def first_position(canonical: str) -> int:
    match = re.search(r"\d+", canonical)
    if match is None:  # pragma: no cover - guaranteed by the grammar
        raise HgvsError(canonical)
    return int(match.group())


def build_variant_index(variants: Iterable[Variant]) -> Mapping[str, Variant]:
    index: dict[str, Variant] = {}
    for variant in variants:
        for name in (variant.hgvs_p, *variant.aliases):
            key = normalize_protein(name)
            if key in index and index[key].id != variant.id:
                raise ValueError(f"variant name {name!r} belongs to {index[key].id} and {variant.id}")
            index[key] = variant
    return index
