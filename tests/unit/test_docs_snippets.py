"""Docs that are true: every fenced block in README.md and docs/*.md is executed or checked here.

- ``bash``/``sh`` lines are run one by one with bash, in a scratch directory that holds the files the docs name
  as the reader's own (``case.json``, ``case.yaml``, ``cases.jsonl``: the embedded examples; ``bundle.json``: the
  sample Bundle in ``examples/``). A line that first sets up a venv from the checkout has its extras checked
  (declared and installed) and the rest run. ``her2cds serve`` is started, asked ``/healthz`` and stopped (on
  a free port instead of the documented one, which may be taken). ``python -m tests.api.snapshot`` must leave
  the committed snapshot unchanged.
- ``python`` blocks run in a fresh interpreter; ``json`` and ``yaml`` blocks must parse and name only real fields
  (an error envelope is compared with what the service answers); a plain block listing the layout must name
  folders and files that exist.
- A block may be marked ``<!-- docs-test: ci ... -->`` on the line before it only if CI runs it as written:
  the README's two commands, run by ``.ci/isolated-tests`` from a copy of the repository (checked below).
- A block marked ``<!-- docs-test: synopsis -->`` (or a plain block of ``her2cds`` forms) lists command forms with
  placeholders (``[--json]``, ``ID``): every command path and every ``--option`` it names must exist in the CLI.
- A block marked ``<!-- docs-test: exit-1 -->`` must exit 1 (the text beside it says why).
- A block marked ``<!-- docs-test: cluster -->`` needs a cluster CI does not have: its install line and the
  her2cds command it submits are checked as above (the engine itself runs on local Spark in the cohort tests).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from her2cds import examples
from her2cds.model.case import Case

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"<!--\s*docs-test:\s*([a-z0-9-]+)\b(.*?)-->")
SAMPLE_BUNDLE = REPO / "examples" / "fhir-bundle-breast.json"
BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    body: str
    marker: str | None

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def _blocks() -> list[Block]:
    found: list[Block] = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            match = FENCE.match(lines[i])
            if match is None:
                i += 1
                continue
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            marker = MARKER.search(before)
            found.append(Block(path, i + 1, match.group(1), "\n".join(lines[i + 1:end]) + "\n",
                               marker.group(1) if marker else None))
            i = end + 1
    return found


BLOCKS = _blocks()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("docs")
    case = examples.load()
    (work / "case.json").write_text(json.dumps(case), encoding="utf-8")
    (work / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    (work / "cases.jsonl").write_text("".join(json.dumps(examples.load(n)) + "\n" for n in examples.names()),
                                      encoding="utf-8")
    shutil.copy(SAMPLE_BUNDLE, work / "bundle.json")
    for folder in ("examples", "tests"):  # commands that name repository files (tests/fixtures/...) find them
        (work / folder).symlink_to(REPO / folder, target_is_directory=True)
    return work


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(command: str, workdir: Path) -> None:
    port = _free_port()
    command = re.sub(r"--port\s+\d+", f"--port {port}", command) if "--port" in command else \
        f"{command} --port {port}"
    log = workdir / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=workdir, env=_env(), stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.status == 200
                    return
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = log.read_text(encoding="utf-8", errors="replace")
                    pytest.fail(f"{command!r} did not serve /healthz: {output[-2000:]}")
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _snapshot_regeneration(command: str) -> None:
    snapshot = REPO / "tests" / "api" / "snapshots" / "openapi.json"
    before = snapshot.read_bytes()
    try:
        result = subprocess.run(["bash", "-c", command], cwd=REPO, env=_env(), capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert snapshot.read_bytes() == before, "the committed OpenAPI snapshot is not current"
    finally:
        snapshot.write_bytes(before)


# "set up from the checkout, then run X": the setup is what .ci/isolated-tests runs as written (a fresh venv, the
# pinned install); here the extras it names must exist and be installed, and X is run in this environment
_SETUP = re.compile(r'^(?:python3 -m venv \.venv && \. \.venv/bin/activate && )?pip install '
                    r'(?:-c constraints\.txt )?(?:-e )?"?\.(?:\[(?P<extras>[a-z,]+)\])?"?(?: && (?P<rest>.+))?$')


def _extras_installed(extras: str) -> None:
    import importlib.metadata
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for extra in filter(None, extras.split(",")):
        assert extra in declared["optional-dependencies"], f"no extra {extra!r} in pyproject.toml"
        for requirement in declared["optional-dependencies"][extra]:
            name = re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0]
            importlib.metadata.version(name)  # raises PackageNotFoundError when the extra is not installed


def _shell(block: Block, workdir: Path, expect: int = 0) -> None:
    for raw in block.body.splitlines():
        command = raw.strip()
        if not command or command.startswith("#"):
            continue
        setup = _SETUP.match(command.split(" #")[0].strip())
        if setup is not None:
            _extras_installed(setup.group("extras") or "")
            if not setup.group("rest"):
                continue
            command = setup.group("rest")
        if command.startswith("her2cds serve"):
            _serve(command.split("#")[0].strip(), workdir)
            continue
        if command.startswith("python -m tests.api.snapshot"):
            _snapshot_regeneration(command)
            continue
        result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=workdir, env=_env(),
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == expect, \
            f"{block.name}: `{command}` exited {result.returncode}, not {expect}: {result.stderr[-800:]}"
        assert result.stdout.strip() or result.stderr.strip(), f"{block.name}: `{command}` printed nothing"


def _python(block: Block, workdir: Path) -> None:
    result = subprocess.run([sys.executable, "-c", block.body], cwd=workdir, env=_env(), capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{block.name}: {result.stderr[-1500:]}"


def _fields(model: type[BaseModel], data: Any, where: str) -> list[str]:
    """Names in ``data`` that are not fields of ``model`` (recursively through nested models and lists)."""
    from her2cds.adapters.cli_output import _model_of

    if isinstance(data, list):
        return [p for item in data for p in _fields(model, item, where)]
    if not isinstance(data, dict):
        return []
    unknown = []
    for key, value in data.items():
        if key not in model.model_fields:
            unknown.append(f"{where}.{key}")
            continue
        inner = _model_of(model.model_fields[key].annotation)
        if inner is not None:
            unknown += _fields(inner, value, f"{where}.{key}")
    return unknown


def _service_error_for(envelope: dict[str, Any]) -> Any:
    """Post the example case with the documented bad value to the service; its answer (the service extra is in
    the README's test command)."""
    from her2cds.adapters.api import Settings, create_app
    from tests.api.client import Client

    field = envelope["error"]["field"]
    got = re.search(r"\(got '([^']*)'\)", envelope["error"]["message"])
    assert field == "specimens[0].ihc.score" and got, "the documented error is not the one this test replays"
    case = examples.load()
    case["specimens"][0]["ihc"]["score"] = got.group(1)
    return Client(create_app(Settings())).post("/v1/assess", json=case).json()


def _json_block(block: Block) -> None:
    data = json.loads(block.body)
    if isinstance(data, dict) and "tumor" in data:
        assert not _fields(Case, data, "case"), _fields(Case, data, "case")
    elif isinstance(data, dict) and "error" in data:
        assert _service_error_for(data) == data
    else:
        pytest.fail(f"{block.name}: a JSON block this test does not know how to check")


def _yaml_block(block: Block, workdir: Path) -> None:
    data = yaml.safe_load(block.body)
    if isinstance(data, dict) and "columns" in data:  # a cohort table mapping: the loader must accept it
        from her2cds.cohort.mapping import load_mapping

        path = workdir / "mapping-from-docs.yaml"
        path.write_text(block.body, encoding="utf-8")
        load_mapping(path)
        return
    from her2cds.knowledge.therapy_schema import Indication

    assert isinstance(data, list) and data, f"{block.name}: a YAML block this test does not know how to check"
    unknown = _fields(Indication, data, "indication")
    assert not unknown, unknown


def _layout(block: Block) -> None:
    parents: list[tuple[int, Path]] = []
    checked = 0
    for line in block.body.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        name = line.split()[0]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        base = parents[-1][1] if parents else REPO
        path = base / name.rstrip("/")
        assert path.exists(), f"{block.name}: {path.relative_to(REPO)} does not exist"
        checked += 1
        if name.endswith("/"):
            parents.append((indent, path))
    assert checked >= 5


def _synopsis(block: Block) -> None:
    import argparse

    from her2cds.adapters.cli import build_parser

    def children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    checked = 0
    lines: list[str] = []
    for raw in block.body.rstrip().replace("\\\n", " ").splitlines():
        if raw[:1].isspace() and lines:
            lines[-1] += " " + raw.strip()  # a continuation of the form above
        else:
            lines.append(raw)
    for raw in lines:
        for command in re.split(r"\s\|\s(?=her2cds\b)", raw.split("#")[0].strip()):
            if not command:
                continue
            words = command.split()
            assert words[0] == "her2cds", f"{block.name}: {command!r}"
            parser, path = build_parser(), ["her2cds"]
            for word in words[1:]:
                sub = children(parser).get(word)
                if sub is None:
                    break
                parser, path = sub, [*path, word]
            assert not children(parser), f"{block.name}: {command!r} does not name a complete command"
            known = {s for action in parser._actions for s in action.option_strings}
            unknown = [o for o in re.findall(r"(?<![\w-])--[a-z][a-z-]*", command) if o not in known]
            assert not unknown, f"{block.name}: {' '.join(path)} has no option(s) {unknown}"
            checked += 1
    assert checked, block.name


def _cluster(block: Block) -> None:
    """A command for a cluster that CI does not have (spark-submit on YARN): its install line names extras that
    exist and are installed, and the her2cds command it submits is a valid command of the CLI (the same engine
    runs on local Spark in the cohort tests)."""
    body = block.body.replace("\\\n", " ")
    for line in body.splitlines():
        setup = _SETUP.match(line.split(" #")[0].strip())
        if setup is not None:
            _extras_installed(setup.group("extras") or "")
    submitted = re.search(r"\)\s+(cohort run .+)$", " ".join(body.split()))
    assert submitted, f"{block.name}: no her2cds command found in the cluster block"
    _synopsis(Block(block.path, block.line, "", "her2cds " + submitted.group(1) + "\n", "synopsis"))


def _ci(block: Block) -> None:
    tool = runpy.run_path(str(REPO / "tools" / "readme_command.py"))
    readme_command = tool["readme_command"]
    assert block.path.name == "README.md"
    isolated = (REPO / ".ci" / "isolated-tests").read_text(encoding="utf-8")
    commands = {readme_command("quickstart"), readme_command("tests")}
    assert block.body.strip() in commands, f"{block.name}: marked ci, but CI does not run it"
    assert "readme_command.py quickstart" in isolated and "readme_command.py tests" in isolated


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_every_fenced_block_is_true(block: Block, workdir: Path) -> None:
    if block.marker == "synopsis" or (block.lang == "" and block.body.startswith("her2cds ")):
        _synopsis(block)
    elif block.marker == "cluster":
        _cluster(block)
    elif block.marker == "exit-1":  # the text says why it exits 1 (e.g. a fixture with deliberately bad rows)
        _shell(block, workdir, expect=1)
    elif block.marker is not None:
        assert block.marker == "ci", f"{block.name}: unknown docs-test marker {block.marker!r}"
        _ci(block)
    elif block.lang in ("bash", "sh", "shell"):
        _shell(block, workdir)
    elif block.lang == "python":
        _python(block, workdir)
    elif block.lang == "json":
        _json_block(block)
    elif block.lang == "yaml":
        _yaml_block(block, workdir)
    elif block.lang in ("", "text") and block.path.name == "README.md" and "src/her2cds/" in block.body:
        _layout(block)
    else:
        pytest.fail(f"{block.name}: no check for a ```{block.lang} block; add one here")


def test_blocks_are_found() -> None:
    langs = {b.lang for b in BLOCKS}
    assert {"bash", "python", "json"} <= langs
    assert len(BLOCKS) >= 10
    assert sum(b.marker == "ci" for b in BLOCKS) == 2  # only the README's two commands are left to CI
