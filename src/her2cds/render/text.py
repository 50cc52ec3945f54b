"""Plain-text rendering of an assessment for a tumor board: specimen table, patient status, flags,
recommendations, therapies and the rule trace."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from her2cds.model.assessment import Assessment, SpecimenResult

# a knowledge-base id in parentheses inside a basis text: shown in the trace, not in the report body
_RULE_ID = re.compile(r"\s*\((?:[a-z0-9][a-z0-9+-]*\.)+[a-z0-9][a-z0-9+-]*\)")


def _plain(text: str) -> str:
    """A text without the rule ids it cites (they are in the trace)."""
    return _RULE_ID.sub("", text)


def _wrap(lines: Sequence[str], width: int | None) -> list[str]:
    """Wrap prose lines to ``width``, continuation lines indented under the text; tables are not wrapped."""
    if not width:
        return list(lines)
    out: list[str] = []
    for line in lines:
        if len(line) <= width or line.startswith("\x00"):
            out.append(line.removeprefix("\x00"))
            continue
        indent = len(line) - len(line.lstrip(" "))
        out += textwrap.wrap(line, width=width, subsequent_indent=" " * (indent + 4), break_on_hyphens=False)
    return out


def _next_step(a: Assessment) -> str:
    """What to do next, in words: the first recommendation, else the first need, else nothing further."""
    if a.recommendations:
        r = a.recommendations[0]
        return r.text + (f" (specimen {r.specimen})" if r.specimen else "")
    if a.her2.needs:
        n = a.her2.needs[0]
        return f"provide {n.field}: {n.reason}"
    if a.her2.status.value in ("positive", "negative"):
        return "no further HER2 testing is needed for this result"
    return "obtain an adequate tissue specimen for HER2 IHC/ISH"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _ish(s: SpecimenResult) -> str:
    """E.g. "ratio 2.95, HER2 6.2/cell, group 1, positive"."""
    if s.ish is None:
        return "-"
    parts = []
    if s.ish.ratio is not None:
        parts.append(f"ratio {s.ish.ratio:.2f}")
    if s.ish.her2_per_cell is not None:
        parts.append(f"HER2 {s.ish.her2_per_cell:g}/cell")
    elif s.ish.her2_per_cell_derived is not None:
        parts.append(f"HER2 {s.ish.her2_per_cell_derived}/cell (derived)")
    if s.ish.group is not None:
        parts.append(f"group {s.ish.group}")
    parts.append(s.ish.status.value if s.ish.final else "not final")
    return ", ".join(parts)


def _ngs(s: SpecimenResult) -> str:
    if s.ngs is None:
        return "-"
    parts = [s.ngs.amplification.value]
    parts += [v.hgvs_p or v.input for v in s.ngs.variants]
    if s.ngs.tumor_fraction is not None:
        parts.append(f"TF {s.ngs.tumor_fraction:g}")
    return " ".join(parts)


def render_text(
    a: Assessment, therapies_text: Callable[[Sequence[Any]], str] | None = None, *, trace: bool = True,
    width: int | None = None,
) -> str:
    """The report; ``width`` wraps prose to the terminal (tables stay whole). Ids live in the trace section."""
    out: list[str] = []
    title = f"HER2 assessment{f' - {a.id}' if a.id else ''}"
    out += [title, "=" * len(title)]
    t = a.tumor
    out.append(f"Tumor: {t.name} ({t.oncotree_code}); setting {t.setting or 'not given'}"
               + ("; no tumor-specific HER2 guideline - scored on the gastric criteria" if t.scoring_fallback else ""))
    out.append("")
    h = a.her2
    out.append(f"PATIENT - NEXT: {_next_step(a)}")
    out.append(f"  HER2 {h.status.value.upper()}"
               + (f"  IHC {h.ihc_score.value}" if h.ihc_score else "")
               + (f"  category {h.category.value}" if h.category else ""))
    out.append(f"  basis: {_plain(h.basis)}")
    out += [f"  needs {n.field}: {n.reason}" for n in h.needs]
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
        out += ["\x00" + line for line in _table(["id", "date", "site", "procedure", "IHC", "ISH", "NGS", "status"],
                                                   rows)]
        out.append("")
    else:
        out += ["SPECIMENS: none", ""]
    if a.criteria is not None:  # the case's criteria: a re-reading beside the answer (docs/output.md)
        c = a.criteria
        decided = f" (specimen {c.specimen}, {c.criteria})" if c.specimen else ""
        unverified = "; unverified knowledge-base entries used" if c.unverified else ""
        out.append(f"SUPERSEDED CRITERIA ({c.requested}): {c.status.upper()}{decided}{unverified}")
        out += [f"  {s.id}: {s.status} under {s.criteria or 'no guideline'} (current: {s.current_status.value})"
                f" - {s.reason}" for s in c.specimens]
        out += [f"  needs {n.field}: {n.reason}" for n in c.needs]
        out.append("")
    if a.flags:
        out.append("FLAGS")
        out += [f"  ! {f.code}: {f.text}" for f in a.flags]
        out.append("")
    if a.recommendations:
        out.append("RECOMMENDATIONS")
        out += [f"  > {r.code}{f' [{r.specimen}]' if r.specimen else ''}: {r.text}" for r in a.recommendations]
        out.append("")
    if therapies_text is not None and a.therapies:
        out += therapies_text(a.therapies).splitlines()
        out.append("")
    if a.warnings:
        out.append("INPUT WARNINGS")
        out += [f"  ~ {w.code}{f' ({w.field})' if w.field else ''}: {w.text}" for w in a.warnings]
        out.append("")
    if trace:
        out.append(f"RULE TRACE (tumor family {t.family}; scoring system {t.scoring_system})")
        for e in a.trace:
            where = f"[{e.specimen}] " if e.specimen else ""
            out.append(f"  - {where}{e.rule} ({', '.join(e.sources)}): {e.detail}")
        out.append("")
    v = a.versions
    out.append(f"her2cds {v.engine}; knowledge base {v.knowledge_base} as of {v.as_of}; OncoTree {v.oncotree}")
    out.append(a.disclaimer)
    return "\n".join(_wrap(out, width)) + "\n"
