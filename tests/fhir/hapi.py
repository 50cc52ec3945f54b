"""A HAPI-FHIR-style transaction endpoint for tests: what a FHIR server checks before it accepts a transaction
Bundle, and what it answers (FHIR R4 RESTful API, "transaction" interaction; the checks HAPI FHIR applies).

``FhirServer.transaction(bundle)`` raises :class:`RejectedError` (as a server answers 400/404/422) or returns a
``transaction-response`` Bundle; created resources are stored, so conditional creates (``ifNoneExist``) and
references to resources already on the server behave as on a real server.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

_URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


class RejectedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _references(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


class FhirServer:
    def __init__(self, existing: Sequence[dict[str, Any]] = ()) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        for resource in existing:
            self.store[f"{resource['resourceType']}/{resource['id']}"] = copy.deepcopy(resource)
        self.counter = 0

    def _matches(self, rtype: str, query: str) -> list[str]:
        name, _, value = query.partition("=")
        if name != "identifier":
            raise RejectedError(400, f"unsupported search parameter in ifNoneExist: {name}")
        system, _, code = value.rpartition("|")
        return [key for key, r in self.store.items() if key.startswith(f"{rtype}/") and any(
            i.get("value") == code and (not system or i.get("system") == system) for i in r.get("identifier", []))]

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise RejectedError(400, f"expected a Bundle of type transaction, got {bundle.get('type')!r}")
        entries = bundle.get("entry") or []
        full_urls: dict[str, str] = {}
        plan: list[tuple[dict[str, Any], str | None]] = []
        for index, entry in enumerate(entries):
            request, resource, full_url = entry.get("request"), entry.get("resource"), entry.get("fullUrl")
            if not isinstance(request, dict) or request.get("method") not in ("POST", "PUT"):
                raise RejectedError(400, f"entry[{index}]: request.method must be POST or PUT here")
            if not isinstance(resource, dict):
                raise RejectedError(400, f"entry[{index}]: no resource")
            rtype = str(resource.get("resourceType"))
            if request["method"] == "POST":
                if request.get("url") != rtype:
                    raise RejectedError(400, f"entry[{index}]: POST url {request.get('url')!r} is not {rtype!r}")
                if "id" in resource:
                    raise RejectedError(400, f"entry[{index}]: a resource to create must not carry an id")
            if not isinstance(full_url, str) or not _URN_UUID.match(full_url):
                raise RejectedError(400, f"entry[{index}]: fullUrl {full_url!r} is not a urn:uuid")
            if full_url in full_urls:
                raise RejectedError(400, f"entry[{index}]: duplicate fullUrl {full_url}")
            existing = self._matches(rtype, request["ifNoneExist"]) if request.get("ifNoneExist") else []
            if len(existing) > 1:
                raise RejectedError(412, f"entry[{index}]: ifNoneExist matches {len(existing)} resources")
            self.counter += 1
            target = existing[0] if existing else f"{rtype}/{self.counter}"
            full_urls[full_url] = target
            plan.append((entry, None if existing else target))
        responses = []
        created: dict[str, dict[str, Any]] = {}
        for entry, new_target in plan:
            resource = copy.deepcopy(entry["resource"])
            for ref in _references(resource):
                value = ref["reference"]
                if value in full_urls:
                    ref["reference"] = full_urls[value]
                elif value.startswith("urn:"):
                    raise RejectedError(404, f"reference {value} is not a fullUrl of this transaction")
                elif _RELATIVE.match(value):
                    if value not in self.store:
                        raise RejectedError(404, f"resource {value} is not known to the server")
                else:
                    raise RejectedError(400, f"reference {value!r} is neither relative nor a urn:uuid")
            if new_target is None:
                responses.append({"response": {"status": "200 OK",
                                               "location": full_urls[entry["fullUrl"]] + "/_history/1"}})
                continue
            rid = new_target.split("/")[1]
            resource["id"] = rid
            resource["meta"] = {**resource.get("meta", {}), "versionId": "1"}
            created[new_target] = resource
            responses.append({"response": {"status": "201 Created", "location": f"{new_target}/_history/1"}})
        self.store.update(created)
        return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response",
                "entry": responses}
