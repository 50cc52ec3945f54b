"""Plain-text rendering of an assessment for a tumor board: specimen table, patient status, flags,
recommendations, therapies and the rule trace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from her2cds.model.assessment import Assessment, SpecimenResult


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _ish(s: SpecimenResult) -> str:
    if s.ish is None:
        return "-"
    parts = []
    if s.ish.group is not None:
        parts.append(f"G{s.ish.group}")
    if s.ish.ratio is not None:
        parts.append(f"r{s.ish.ratio:.2f}")
    if s.ish.her2_per_cell is not None:
        parts.append(f"cn{s.ish.her2_per_cell:g}")
    parts.append(s.ish.status.value if s.ish.final else "not final")
    return " ".join(parts)


def _ngs(s: SpecimenResult) -> str:
    if s.ngs is None:
        return "-"
    parts = [s.ngs.amplification.value]
    parts += [v.hgvs_p or v.input for v in s.ngs.variants]
    if s.ngs.tumor_fraction is not None:
        parts.append(f"TF {s.ngs.tumor_fraction:g}")
    return " ".join(parts)


def render_text(
    a: Assessment, therapies_text: Callable[[Sequence[Any]], str] | None = None, *, trace: bool = True
) -> str:
    out: list[str] = []
    title = f"HER2 assessment{f' - {a.id}' if a.id else ''}"
    out += [title, "=" * len(title)]
    t = a.tumor
    out.append(f"Tumor: {t.name} ({t.oncotree_code}); family {t.family}; setting {t.setting or 'not given'}")
    fallback = " (fallback: no tumor-specific guideline)" if t.scoring_fallback else ""
    out.append(f"Scoring system: {t.scoring_system}{fallback}")
    out.append("")
    h = a.her2
    out.append(f"PATIENT HER2: {h.status.value.upper()}"
               + (f"  IHC {h.ihc_score.value}" if h.ihc_score else "")
               + (f"  category {h.category.value}" if h.category else ""))
    out.append(f"  basis: {h.basis}")
    amp = {True: "yes", False: "no", None: "not assessed"}
    out.append(f"  ERBB2 amplified: {amp[h.erbb2_amplified]} (ISH {amp[h.ish_amplified]}, NGS {amp[h.ngs_amplified]})")
    if h.erbb2_activating_mutations:
        kd = f"; kinase domain: {', '.join(h.erbb2_kinase_domain_mutations) or 'none'}"
        out.append(f"  activating ERBB2 mutations: {', '.join(h.erbb2_activating_mutations)}{kd}")
    if h.specimen_categories and len(h.specimen_categories) > 1:
        cats = ", ".join(f"{c.specimen}={c.category.value if c.category else '-'}" for c in h.specimen_categories)
        out.append(f"  categories by specimen (date order): {cats}")
    if h.category_comment:
        out.append(f"  note: {h.category_comment}")
    out.append("")
    if a.specimens:
        ordered = sorted(a.specimens, key=lambda s: (s.collected_on.isoformat() if s.collected_on else "", s.id))
        rows = [
            [
                s.id,
                s.collected_on.isoformat() if s.collected_on else "-",
                (s.site_detail or (s.site.value if s.site else "-")),
                s.procedure.value + ("" if s.adequate else " (inadequate)"),
                s.ihc_score.value if s.ihc_score else "-",
                _ish(s),
                _ngs(s),
                s.status.value + (f" / {s.category.value}" if s.category else ""),
            ]
            for s in ordered
        ]
        out += ["SPECIMENS (date order)"]
        out += _table(["id", "date", "site", "procedure", "IHC", "ISH", "NGS", "status"], rows)
        out.append("")
    else:
        out += ["SPECIMENS: none", ""]
    if a.flags:
        out.append("FLAGS")
        out += [f"  ! {f.code}: {f.text}" for f in a.flags]
        out.append("")
    if a.recommendations:
        out.append("RECOMMENDATIONS")
        out += [f"  > {r.code}{f' [{r.specimen}]' if r.specimen else ''}: {r.text}" for r in a.recommendations]
        out.append("")
    if therapies_text is not None and a.therapies:
        out.append(therapies_text(a.therapies))
        out.append("")
    if a.warnings:
        out.append("INPUT WARNINGS")
        out += [f"  ~ {w.code}{f' ({w.field})' if w.field else ''}: {w.text}" for w in a.warnings]
        out.append("")
    if trace:
        out.append("RULE TRACE")
        for e in a.trace:
            where = f"[{e.specimen}] " if e.specimen else ""
            out.append(f"  - {where}{e.rule} ({', '.join(e.sources)}): {e.detail}")
        out.append("")
    v = a.versions
    out.append(f"her2cds {v.engine}; knowledge base {v.knowledge_base} as of {v.as_of}; OncoTree {v.oncotree}")
    out.append(a.disclaimer)
    return "\n".join(out) + "\n"
