"""Which drugs (INN) a FHIR medication CodeableConcept names: by drug code first, else by name."""

from __future__ import annotations

import re
from typing import Any

from her2cds.adapters.fhir._values import codings, concept_texts
from her2cds.adapters.fhir.codes import CodeMap


def medication_drugs(concept: Any, cm: CodeMap) -> list[str]:
    """The INNs a medication CodeableConcept names: by drug code (e.g. RxNorm) first, else by name in its
    texts (longest names first, so "trastuzumab deruxtecan" is not also read as "trastuzumab")."""
    if concept is None:
        return []
    found: list[str] = []
    for coding in codings(concept, cm):
        if coding.system and coding.code:
            entry = cm.drug_index.get((coding.system, coding.code.upper()))
            if entry is not None:
                found.extend(a for a in (entry.inn, *entry.also) if a not in found)
    if found:
        return found
    for label in concept_texts(concept, cm):
        remaining = _drug_words(label, cm)
        hits: list[tuple[int, list[str]]] = []
        for pattern, entry in cm.drug_names:  # longest names first
            for match in pattern.finditer(remaining):
                hits.append((match.start(), [entry.inn, *entry.also]))
            remaining = pattern.sub(lambda m: " " * len(m.group()), remaining)
        for _, inns in sorted(hits, key=lambda hit: hit[0]):
            found.extend(a for a in inns if a not in found)
        if found:
            break
    return found


def _drug_words(label: str, cm: CodeMap) -> str:
    file = cm.file
    suffix = re.compile(file.drug_name_suffix_pattern) if file.drug_name_suffix_pattern else None
    tokens = []
    for token in re.split(r"[\s/,;+()\[\]]+", label.lower()):
        for prefix in file.drug_name_prefixes:
            if token.startswith(prefix):
                token = token[len(prefix):]
        if suffix is not None:
            token = suffix.sub("", token)
        tokens.append(token)
    return " ".join(t for t in tokens if t)
