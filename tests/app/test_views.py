"""The result page's regulatory badges name the pathway with the date it applies to."""

from __future__ import annotations

from typing import Any

import her2cds
from her2cds.app.views import regulatory_label, therapy_groups


def test_a_converted_accelerated_approval_shows_both_dates() -> None:
    record = {"agency": "FDA", "status": "regular", "approval_date": "2021-05-05", "initial_status": "accelerated",
              "regular_approval_date": "2025-03-19"}
    assert regulatory_label(record) == "FDA accelerated 2021-05-05, regular 2025-03-19"


def test_regular_and_still_accelerated_approvals_show_their_date() -> None:
    assert regulatory_label({"agency": "FDA", "status": "regular", "approval_date": "2010-10-01",
                             "initial_status": "regular"}) == "FDA regular 2010-10-01"
    assert regulatory_label({"agency": "FDA", "status": "accelerated", "approval_date": "2024-11-20",
                             "initial_status": "accelerated"}) == "FDA accelerated 2024-11-20"


def test_pembrolizumab_gastric_badge_from_the_knowledge_base() -> None:
    case = {"tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
            "specimens": [{"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"score": "3+"}}]}
    document: dict[str, Any] = her2cds.assess(case).expanded().model_dump(mode="json")
    labels = [label for group in therapy_groups(document).values() for option in group
              if "pembrolizumab" in " ".join(option["drugs"]) for label in option["reg_labels"]]
    assert labels and all("regular 2025-03-19" in label and "accelerated 2021-05-05" in label for label in labels)
