"""The OpenAPI snapshot: what ``tests/api/test_openapi.py`` compares against.

Regenerate after an intended API change (then review the diff):

    python -m tests.api.snapshot          # from the repository root

Normalised so that unrelated edits do not churn it: the engine version and the assessment date of the response
examples (they are computed today) are replaced by placeholders and the request examples are dropped (every
example is executed by ``test_openapi_examples_run``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from her2cds.adapters.api import Settings, create_app

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


def _drop_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: "<assessment date>" if key == "assessed_on" and isinstance(value, str) else _drop_examples(value)
            for key, value in node.items()
            if key != "examples"
        }
    if isinstance(node, list):
        return [_drop_examples(item) for item in node]
    return node


def document() -> dict[str, Any]:
    spec = create_app(Settings()).openapi()
    normalised: dict[str, Any] = _drop_examples(json.loads(json.dumps(spec)))
    normalised["info"]["version"] = "<engine version>"
    return normalised


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(render(document()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")


if __name__ == "__main__":
    main()
