"""``/v1/assess`` writes the library's default document directly (D14.8) and still honours an assessor override."""

from __future__ import annotations

from typing import Any

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.deps import get_assessor
from her2cds.engine import Engine
from tests.api.client import Client


@pytest.mark.parametrize("name", examples.names())
def test_default_document_is_written_directly_and_equals_the_objects(
    client: Client, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = examples.load(name)
    calls: list[str] = []
    direct = Engine.assess_json

    def spy(self: Engine, data: Any, *, expand: bool = False) -> str:
        calls.append("direct")
        return direct(self, data, expand=expand)

    monkeypatch.setattr(Engine, "assess_json", spy)
    response = client.post("/v1/assess", json=case)
    assert response.status_code == 200, response.text
    assert calls == ["direct"]
    assert response.content == her2cds.assess(case).model_dump_json().encode()


def test_expanded_and_overridden_requests_build_objects() -> None:
    case = examples.load(examples.DEFAULT)
    seen: list[str] = []

    def assessor(data: dict[str, Any]) -> Any:
        seen.append(str(data.get("id")))
        return her2cds.assess(data)

    app = create_app(Settings())

    async def provider() -> Any:
        return assessor

    app.dependency_overrides[get_assessor] = provider
    client = Client(app)
    plain = client.post("/v1/assess", json=case)
    expanded = client.post("/v1/assess?expand=therapies", json=case)
    assert plain.status_code == expanded.status_code == 200
    assert len(seen) == 2  # the override answered both: the direct path is only the library's own assessor
    assert plain.content == her2cds.assess(case).model_dump_json().encode()
    assert expanded.content == her2cds.assess(case).expanded().model_dump_json().encode()
