"""A small reader for the FHIR Shorthand (FSH) *Instance* definitions in the IG fixtures (``tests/fixtures/fhir``).

It covers what the mCODE and Genomics Reporting example instances use: ``* path = value`` rules with codes
(``LNC#85337-4 "display"``, ``$LNC#...``, ``http://system#code``), strings, numbers, ``Reference(id)``,
named slices (``component[gene-studied]``) and soft indexes (``[+]``, ``[=]``). It is test support, not a
general FSH compiler: a rule it does not understand raises, so a fixture change cannot pass unnoticed.
"""

from __future__ import annotations

import re
from typing import Any

ALIASES = {
    "LNC": "http://loinc.org",
    "$LNC": "http://loinc.org",
    "$loinc": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "$SCT": "http://snomed.info/sct",
    "$OBSCAT": "http://terminology.hl7.org/CodeSystem/observation-category",
    "$DIAGNOSTICSERVICE": "http://terminology.hl7.org/CodeSystem/v2-0074",
    "$NCBIREFSEQ": "http://www.ncbi.nlm.nih.gov/refseq",
    "TbdCodesCS": "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs",
    "MolecularBiomarkerOntologyCS":
        "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/molecular-biomarker-ontology",
}
REFERENCE_TYPES = {"subject": "Patient", "performer": "Practitioner"}
_RULE = re.compile(r"^\*\s+(?P<path>\S+)\s*=\s*(?P<value>.+?)\s*$")
_CODE = re.compile(r'^(?P<system>[^\s#"]*)#(?P<code>[^\s"]+)(?:\s+"(?P<display>[^"]*)")?$')
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?P<indexes>(?:\[[^\]]+\])*)$")
CODEABLE = {"code", "valueCodeableConcept", "category"}


def parse_instances(text: str) -> dict[str, dict[str, Any]]:
    """Instance id -> FHIR JSON of every ``Instance:`` in an FSH text."""
    instances: dict[str, dict[str, Any]] = {}
    current: _Instance | None = None
    for raw in text.splitlines():
        line = raw.split("//")[0].rstrip() if "://" not in raw else raw.rstrip()
        line = line.replace("\t", " ")
        if line.startswith("Instance:"):
            current = _Instance(line.split(":", 1)[1].strip())
            instances[current.name] = current.resource
        elif line.startswith("InstanceOf:"):
            if current is None:
                raise ValueError("InstanceOf before Instance")
            current.resource["resourceType"] = "Observation"
        elif line.startswith("*"):
            if current is None:
                raise ValueError(f"rule outside an instance: {line}")
            current.rule(line)
        elif line.startswith(("Description:", "Title:", "Usage:")) or not line.strip():
            continue
        else:
            raise ValueError(f"unsupported FSH line: {line!r}")
    return instances


class _Instance:
    def __init__(self, name: str) -> None:
        self.name = name
        self.resource: dict[str, Any] = {"id": name}
        self.slices: dict[str, dict[str, int]] = {}  # array path -> slice name -> index
        self.current: dict[str, int] = {}  # array path -> current index

    def rule(self, line: str) -> None:
        match = _RULE.match(line)
        if match is None:
            raise ValueError(f"unsupported FSH rule: {line!r}")
        path, value = match.group("path"), match.group("value")
        segments = path.split(".")
        node: Any = self.resource
        prefix = ""
        for position, segment in enumerate(segments):
            seg = _SEGMENT.match(segment)
            if seg is None:
                raise ValueError(f"unsupported path segment {segment!r} in {line!r}")
            name, indexes = seg.group("name"), re.findall(r"\[([^\]]+)\]", seg.group("indexes"))
            prefix = f"{prefix}.{name}" if prefix else name
            last = position == len(segments) - 1
            if indexes:
                array = node.setdefault(name, [])
                index = self._index(prefix, indexes)
                while len(array) <= index:
                    array.append({})
                if last:
                    array[index] = self._value(name, value)
                    return
                node = array[index]
                prefix = f"{prefix}[{index}]"
            elif last:
                self._assign(node, name, value)
            else:
                node = node.setdefault(name, {})

    def _index(self, array_path: str, indexes: list[str]) -> int:
        slices = self.slices.setdefault(array_path, {})
        if "+" in indexes or "=" in indexes:  # a soft index decides; slice names only label the element
            indexes = [token for token in indexes if token in ("+", "=")]
        for token in indexes:
            if token == "+":
                self.current[array_path] = self.current.get(array_path, -1) + 1
            elif token == "=":
                self.current.setdefault(array_path, 0)
            elif token.isdigit():
                self.current[array_path] = int(token)
            elif token not in slices:
                slices[token] = self.current.get(array_path, -1) + 1
                self.current[array_path] = slices[token]
            else:
                self.current[array_path] = slices[token]
        return self.current[array_path]

    def _assign(self, node: dict[str, Any], name: str, value: str) -> None:
        if name == "profile":
            node[name] = [value.strip('"')]
        elif name == "coding":
            node[name] = [self._value(name, value)]
        else:
            node[name] = self._value(name, value)

    def _value(self, name: str, value: str) -> Any:
        if value.startswith("Reference(") and value.endswith(")"):
            target = value[len("Reference("):-1]
            return {"reference": f"{REFERENCE_TYPES.get(name, 'Resource')}/{target}"}
        if value.startswith('"') and value.endswith('"'):
            return value[1:-1]
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return float(value) if "." in value else int(value)
        code = _CODE.match(value)
        if code is None:
            raise ValueError(f"unsupported FSH value {value!r}")
        system = code.group("system")
        if not system:  # a bare code such as #final
            return code.group("code")
        coding = {"system": ALIASES.get(system, system), "code": code.group("code")}
        if code.group("display") is not None:
            coding["display"] = code.group("display")
        if name == "coding":
            return coding
        if name in CODEABLE or name.startswith("value"):
            return {"coding": [coding]}
        raise ValueError(f"a code assigned to {name!r}, which fsh.py does not know as a CodeableConcept")
