"""ERBB2 variant table and HGVS parser (issue 8, defect 4): domains by residue range, strict notation."""

from __future__ import annotations

import itertools

import pytest

from her2cds.knowledge.loader import default_knowledge_base
from her2cds.knowledge.variants import HgvsError, domain_at, normalize_protein, positions

KB = default_knowledge_base()


def test_domain_ranges_tile_the_protein() -> None:
    ranges = sorted(KB.variant_domains, key=lambda d: d.start)
    assert ranges[0].start == 1 and ranges[-1].end == 1255
    for before, after in itertools.pairwise(ranges):
        assert after.start == before.end + 1, (before, after)


@pytest.mark.parametrize("variant", list(KB.variants), ids=lambda v: v.id)
def test_every_entry_agrees_with_the_residue_ranges(variant: object) -> None:
    from her2cds.knowledge.schema import Variant

    assert isinstance(variant, Variant)
    start, _ = positions(normalize_protein(variant.hgvs_p))
    region = domain_at(KB.variant_domains, start)
    assert region is not None
    assert region.domain == variant.domain, (variant.id, region.domain)
    if region.kinase_domain is not None:
        assert variant.kinase_domain == region.kinase_domain, variant.id


@pytest.mark.parametrize(("text", "canonical"), [
    ("p.S310F", "S310F"), ("S310F", "S310F"), ("p.Ser310Phe", "S310F"), ("p.(Ser310Phe)", "S310F"),
    ("NP_004439.2:p.S310F", "S310F"), ("NP_004439:p.Ser310Phe", "S310F"), ("ERBB2 p.S310F", "S310F"),
    ("ERBB2:p.Y772_A775dup", "Y772_A775dup"), ("p.Ala775_Gly776insTyrValMetAla", "A775_G776insYVMA"),
    ("p.E1255*", "E1255*"),
])
def test_accepted_notation(text: str, canonical: str) -> None:
    assert normalize_protein(text) == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("p.X123Y", "standard amino-acid codes"), ("p.S310B", "standard amino-acid codes"),
    ("p.Xaa123Tyr", "standard amino-acid codes"), ("p.S0F", "outside ERBB2"), ("p.S1256F", "outside ERBB2"),
    ("p.A1300_G1301insV", "outside ERBB2"), ("NM_004448.4:p.S310F", "another reference sequence"),
    ("NP_005219.2:p.L858R", "another reference sequence"), ("c.2313_2324dup", "standard amino-acid codes"),
])
def test_rejected_notation(text: str, message: str) -> None:
    with pytest.raises(HgvsError, match=message):
        normalize_protein(text)
