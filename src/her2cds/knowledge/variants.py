"""HGVS protein notation for ERBB2 variants: parse 1- or 3-letter forms, normalise to one letter,
and look variants up in the knowledge base's list (aliases included)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from her2cds.knowledge.schema import DomainRange, SourceRef, Variant, VariantClass

THREE_TO_ONE = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*", "Sec": "U",
}
_THREE = "|".join(THREE_TO_ONE)
_THREE_RE = re.compile(f"({_THREE})")

# one-letter grammar, after 3->1 conversion and stripping "p." and parentheses: only the 20 standard amino
# acids (plus selenocysteine U) and * for a stop; "X" (unknown residue) is not a protein change one can classify
_AA = "ACDEFGHIKLMNPQRSTVWYU"
_POS = rf"[{_AA}*]\d+"
_PATTERNS = (
    re.compile(rf"^(?P<ref>[{_AA}])(?P<pos>\d+)(?P<alt>[{_AA}*=]|fs\*?\d*|fs)$"),  # substitution / frameshift
    re.compile(rf"^(?P<start>{_POS})(?:_(?P<end>{_POS}))?(?P<kind>del|dup)$"),  # deletion / duplication
    re.compile(rf"^(?P<start>{_POS})_(?P<end>{_POS})ins(?P<ins>[{_AA}*]+)$"),  # insertion
    re.compile(rf"^(?P<start>{_POS})(?:_(?P<end>{_POS}))?delins(?P<ins>[{_AA}*]+)$"),  # deletion-insertion
    re.compile(rf"^(?P<start>[{_AA}]\d+)(?P<kind>ins)$"),  # P780ins (unspecified insertion, legacy)
)
ERBB2_LENGTH = 1255  # residues of NP_004439.2 (UniProt P04626)
# accepted reference prefixes before "p.": the RefSeq protein of the knowledge base's transcript, or the gene name
_PREFIX = re.compile(r"^(?:NP_004439(?:\.\d+)?\s*:\s*|ERBB2\s*[: ]\s*|HER2\s*[: ]\s*)", re.IGNORECASE)
_OTHER_REFSEQ = re.compile(r"^[A-Z]{2}_\d+(?:\.\d+)?\s*:", re.IGNORECASE)


class HgvsError(ValueError):
    """Not a protein change in HGVS notation that her2cds understands."""


def normalize_protein(text: str) -> str:
    """Return the canonical one-letter form without ``p.`` (e.g. ``Y772_A775dup``).

    Accepts ``p.S310F``, ``S310F``, ``p.Ser310Phe``, ``p.(Ser310Phe)``, ``NP_004439.2:p.S310F`` and
    ``ERBB2 p.S310F``; rejects other reference sequences, unknown residues (``X``) and positions outside
    ERBB2 (1-1255).
    """
    raw = text.strip()
    prefixed = _PREFIX.sub("", raw, count=1)
    if prefixed == raw and _OTHER_REFSEQ.match(raw):
        raise HgvsError(f"{text!r} names another reference sequence; ERBB2 variants are read on NP_004439.2")
    raw = prefixed.strip()
    body = raw[2:] if raw[:2] in ("p.", "P.") else raw
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    if not body:
        raise HgvsError(f"{text!r} is empty")
    body = _THREE_RE.sub(lambda m: THREE_TO_ONE[m.group(1)], body)
    body = body.replace("Ter", "*")
    for pattern in _PATTERNS:
        if pattern.match(body):
            positions = [int(p) for p in re.findall(r"(?<=[A-Z*])(\d+)", body.split("fs")[0].split("ins")[0])]
            bad = [p for p in positions if not 1 <= p <= ERBB2_LENGTH]
            if bad:
                raise HgvsError(f"{text!r}: position {bad[0]} is outside ERBB2 (residues 1-{ERBB2_LENGTH})")
            return body
    raise HgvsError(
        f"{text!r} is not HGVS protein notation with standard amino-acid codes (e.g. p.S310F or p.Tyr772_Ala775dup)"
    )


def positions(canonical: str) -> tuple[int, int]:
    """First and last residue a canonical change touches (``Y772_A775dup`` -> (772, 775))."""
    head = canonical.split("fs")[0].split("delins")[0].split("ins")[0]
    found = [int(p) for p in re.findall(r"(?<=[A-Z*])(\d+)", head)]
    if not found:  # pragma: no cover - guaranteed by the grammar
        raise HgvsError(canonical)
    return found[0], found[-1]


def build_variant_index(variants: Iterable[Variant]) -> Mapping[str, Variant]:
    index: dict[str, Variant] = {}
    for variant in variants:
        for name in (variant.hgvs_p, *variant.aliases):
            key = normalize_protein(name)
            if key in index and index[key].id != variant.id:
                raise ValueError(f"variant name {name!r} belongs to {index[key].id} and {variant.id}")
            index[key] = variant
    return index


@dataclass(frozen=True)
class KinaseRange:
    start_end: tuple[int, int]
    sources: tuple[SourceRef, ...]


def kinase_range(domains: Iterable[DomainRange]) -> KinaseRange:
    """The residue range every source calls the tyrosine kinase domain."""
    kinase = [d for d in domains if d.kinase_domain is True]
    if len(kinase) != 1:
        raise ValueError("variants.yaml: exactly one domain range must be the kinase domain")
    return KinaseRange((kinase[0].start, kinase[0].end), tuple(kinase[0].sources))


def domain_at(domains: Iterable[DomainRange], position: int) -> DomainRange | None:
    for domain in domains:
        if domain.start <= position <= domain.end:
            return domain
    return None


def adds_residues(canonical: str) -> bool:
    """An in-frame insertion, duplication, or deletion-insertion that inserts more residues than it deletes."""
    if canonical.endswith("dup") or (re.search(r"\dins[A-Z*]*$", canonical) and "delins" not in canonical):
        return True
    match = re.search(r"delins([A-Z*]+)$", canonical)
    if match is None:
        return False
    start, end = positions(canonical)
    return len(match.group(1)) > end - start + 1


def class_for(classes: Iterable[VariantClass], canonical: str) -> VariantClass | None:
    start, _ = positions(canonical)
    for cls in classes:
        if cls.change == "insertion" and adds_residues(canonical) and cls.start <= start <= cls.end:
            return cls
    return None
