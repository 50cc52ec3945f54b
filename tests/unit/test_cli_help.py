"""Help a person can learn from: examples, defaults and exit codes under every --help, shell completion,
example descriptions, and ``kb show`` of an OncoTree code or an entry with threshold values."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess

import pytest

from her2cds import examples
from her2cds.adapters.cli import build_parser, main
from her2cds.adapters.cli_help import EXIT_CODES, completion_script
from her2cds.knowledge.loader import KnowledgeBase


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # --help exits through argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(build_parser())


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "her2cds" for p in COMMANDS])
def test_every_help_shows_examples_defaults_and_exit_codes(path: tuple[str, ...],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*path, "--help"], capsys)
    assert code == 0
    assert "examples:" in out and "her2cds" in out.split("examples:")[1]
    assert EXIT_CODES.splitlines()[0] in out and "2  invalid input or usage" in out


def test_defaults_are_shown(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside the names checked
    _, out, _ = run(["assess", "--help"], capsys)
    assert "(default: json)" in out and "gastric-her2-positive" in out
    _, out, _ = run(["serve", "--help"], capsys)
    assert "(default: 8080)" in out and "(default: 127.0.0.1)" in out


def test_help_examples_name_real_commands_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """Each example line of `assess --help` that names an embedded example names one that exists."""
    _, out, _ = run(["assess", "--help"], capsys)
    named = [w for line in out.splitlines() for w in line.split() if "-" in w and w.islower()
             and any(w.startswith(n.split("-")[0]) for n in examples.names())]
    assert "breast-her2-low" in named
    assert all(n in examples.names() for n in named if n.count("-") >= 2 and "her2" in n)


def test_examples_lists_each_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["examples"], capsys)
    rows = out.splitlines()
    assert code == 0 and [r.split()[0] for r in rows] == examples.names()
    for row, name in zip(rows, examples.names(), strict=True):
        assert examples.describe(name) and row.endswith(examples.describe(name))


def test_every_example_description_matches_its_tumor(capsys: pytest.CaptureFixture[str], kb: KnowledgeBase) -> None:
    for name in examples.names():
        code = examples.load(name)["tumor"]["oncotree_code"]
        family = kb.family_for(code)
        assert family is not None and examples.describe(name), name


# -- completion -------------------------------------------------------------------------------------------------
def _bash_complete(words: list[str]) -> list[str]:
    script = completion_script("bash", build_parser())
    quoted = " ".join(f"'{w}'" for w in words)
    probe = f'{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _her2cds_complete; ' \
            'printf "%s\\n" "${COMPREPLY[@]}"'
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.split()


def test_bash_completion_completes_commands_options_and_choices() -> None:
    assert {"assess", "kb", "examples", "completion"} <= set(_bash_complete(["her2cds", ""]))
    assert _bash_complete(["her2cds", "kb", "sh"]) == ["show"]
    assert set(_bash_complete(["her2cds", "assess", "--f"])) == {"--format", "--fields", "--fhir"}
    assert "--summary" in _bash_complete(["her2cds", "assess", "--"])
    assert set(_bash_complete(["her2cds", "completion", ""])) >= {"bash", "zsh", "fish"}


def test_bash_completion_script_is_valid_bash(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["completion", "bash"], capsys)
    assert code == 0
    subprocess.run(["bash", "-n"], input=out, text=True, timeout=30, check=True)


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command_and_option(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["completion", shell], capsys)
    assert code == 0
    for path in COMMANDS:
        if path:
            assert path[-1] in out, path
    for option in ("--summary", "--fields", "--batch", "--kind"):
        assert option.lstrip("-") in out
    checker = shutil.which(shell)
    if checker is not None:  # syntax check where the shell is installed (bash is checked above in every run)
        subprocess.run([checker, "-n"], input=out, text=True, timeout=30, check=True)


def test_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["completion", "tcsh"], capsys)
    assert code == 2 and "tcsh" in err


# -- kb show ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["IDC", "idc", "STAD"])
def test_kb_show_oncotree_code_gives_family_system_and_threshold_values(
        code: str, capsys: pytest.CaptureFixture[str], kb: KnowledgeBase) -> None:
    rc, out, _ = run(["kb", "show", code], capsys)
    data = json.loads(out)
    family = kb.family_for(code.upper())
    assert rc == 0 and family is not None
    assert data["oncotree_code"] == code.upper() and data["family"]["id"] == family.id
    system = kb.systems[family.scoring_system]
    assert data["scoring_system"]["id"] == system.id
    shown = {t["id"]: t for t in data["scoring_system"]["thresholds"]}
    assert set(shown) == {t.id for t in system.thresholds} and shown
    for threshold in system.thresholds:
        assert (shown[threshold.id]["operator"], shown[threshold.id]["value"]) == (threshold.operator,
                                                                                   threshold.value)


def test_kb_show_rule_carries_its_threshold_values(capsys: pytest.CaptureFixture[str], kb: KnowledgeBase) -> None:
    rc, out, _ = run(["kb", "show", "asco-cap-2018.breast.ish.group-4"], capsys)
    conditions = json.loads(out)["when"]
    assert rc == 0 and conditions
    for condition in conditions:
        threshold = kb.thresholds[condition["threshold"]]
        assert condition["threshold_value"] == {"operator": threshold.operator, "value": threshold.value,
                                                "unit": threshold.unit}


def test_kb_show_scoring_system_lists_threshold_values(capsys: pytest.CaptureFixture[str],
                                                       kb: KnowledgeBase) -> None:
    rc, out, _ = run(["kb", "show", "asco-cap-2018.breast"], capsys)
    data = json.loads(out)
    assert rc == 0
    assert [t["value"] for t in data["thresholds"]] == [t.value for t in kb.systems["asco-cap-2018.breast"].thresholds]


def test_kb_show_unknown_is_a_usage_error_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["kb", "show", "NOT-A-CODE"], capsys)
    assert rc == 2 and out == "" and "OncoTree code" in err
