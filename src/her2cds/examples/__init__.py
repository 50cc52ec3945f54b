"""Embedded example cases (one per tumor family), used by ``her2cds assess --example``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from her2cds.errors import NotFoundError

DEFAULT = "gastric-her2-positive"
_HERE = Path(__file__).parent  # package data next to this module (importlib.resources costs start-up time)

# one line per example: what it shows (listed by ``her2cds examples``; a test checks every example has one)
DESCRIPTIONS = {
    "biliary-ihc3": "metastatic intrahepatic cholangiocarcinoma, IHC 3+ with NGS ERBB2 amplification, after "
                    "gemcitabine/cisplatin/durvalumab",
    "breast-her2-low": "metastatic breast IDC: IHC 0 primary (faint staining in 5%), IHC 2+ bone metastasis with "
                       "ISH group 4 and a blinded recount",
    "colorectal-heracles": "metastatic colon adenocarcinoma scored on HERACLES: IHC by percent of cells, dual-probe "
                           "ISH ratio 4.9",
    "gastric-her2-positive": "(default) metastatic gastric adenocarcinoma: IHC 2+ / ISH-positive primary biopsy and "
                             "a discordant liver metastasis",
    "nsclc-erbb2-mutant": "metastatic lung adenocarcinoma with an ERBB2 exon 20 insertion found in plasma cfDNA",
    "thymic-rare": "metastatic thymic carcinoma: a rare tumor scored on the gastric criteria as a fallback",
}


def names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in _HERE.iterdir() if p.name.endswith(".json"))


def load(name: str = DEFAULT) -> dict[str, Any]:
    if name not in names():
        raise NotFoundError(f"no example named {name!r}; choose one of {', '.join(names())}")
    data: dict[str, Any] = json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))
    return data


def describe(name: str) -> str:
    """The one-line description of an example (empty when it has none)."""
    return DESCRIPTIONS.get(name, "")
