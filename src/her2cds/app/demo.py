"""Demo cases for ``her2cds serve --demo``: the packaged examples, one of them with a second revision."""

from __future__ import annotations

import copy

from her2cds import examples
from her2cds.store import CaseStore
from her2cds.store.service import save_case

DEMO_ACTOR = "demo"


def seed(store: CaseStore) -> list[str]:
    """Save every packaged example as a case (only into an empty store). Returns the case ids."""
    if store.count():
        return []
    ids = []
    for name in examples.names():
        document = examples.load(name)
        cid, _, _ = save_case(store, document, actor=DEMO_ACTOR, label=f"demo: {name}", note="demo case")
        ids.append(cid)
        if name == examples.DEFAULT:
            later = copy.deepcopy(document)
            later["specimens"].append(
                {"id": "B2", "procedure": "biopsy", "site": "primary", "collected_on": "2026-06-15",
                 "ihc": {"score": "3+"}}
            )
            save_case(store, later, actor=DEMO_ACTOR, case_id=cid, note="demo: new biopsy after first-line therapy")
    return ids
