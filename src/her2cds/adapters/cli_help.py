"""Help a person can learn from: examples and exit codes under every subcommand's ``--help`` (defaults are shown
by the formatter), and shell completion scripts (``her2cds completion bash|zsh|fish``) built from the parser."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

__all__ = ["EPILOGS", "EXIT_CODES", "HelpFormatter", "completion_script", "epilog"]

EXIT_CODES = """exit codes:
  0  success
  1  --batch finished but some lines were invalid (each has an error line); kb validate: knowledge base invalid
  2  invalid input or usage (the message names the field or option)
  3  knowledge-base error
  4  internal error"""

EPILOGS: dict[str, str] = {
    "her2cds": """examples:
  her2cds assess --example --format text     assess the default embedded example, readable
  her2cds examples                           list the embedded examples with a description
  her2cds assess case.yaml --summary         one short JSON object: status, category, flags, therapies
  her2cds kb show IDC                        how an OncoTree code is scored (thresholds with values)
  her2cds <command> --help                   options, defaults and examples of one command""",
    "assess": """examples:
  her2cds assess case.json                             full assessment JSON
  her2cds assess case.yaml --format text --no-trace    readable summary without the rule trace
  her2cds assess --example breast-her2-low --summary   short JSON of an embedded example
  her2cds assess case.json --fields id,her2.status,her2.category
  her2cds assess --fhir bundle.json --output fhir      FHIR Bundle in, FHIR Bundle (DiagnosticReport) out
  her2cds assess --batch cases.jsonl --summary > out.jsonl   one line out per line in; progress bar on a terminal
  jq -c '.[]' cases.json | her2cds assess --batch -    a JSON array of cases, as JSON Lines
  her2cds assess case.json --criteria by-date        also re-read under the ASCO/CAP criteria of each test's date

input: one case (JSON or YAML; see `her2cds schema input`), or JSON Lines with --batch. A JSON array is not a
case: use --batch. --format text and --output fhir are for one case; with --batch use --summary or --fields.""",
    "kb": """examples:
  her2cds kb validate
  her2cds kb list --kind threshold
  her2cds kb show asco-cap-2018.breast.ish.group-4
  her2cds kb show IDC""",
    "validate": "examples:\n  her2cds kb validate\n  her2cds kb validate --path ./my-kb-copy",
    "list": "examples:\n  her2cds kb list --kind rule\n  her2cds kb list --json | jq length",
    "show": """examples:
  her2cds kb show asco-cap-2018.breast.ihc.extent     one entry, as JSON
  her2cds kb show IDC                                  an OncoTree code: its family, scoring system, thresholds""",
    "schema": "examples:\n  her2cds schema input\n  her2cds schema output | jq '.properties | keys'",
    "examples": "examples:\n  her2cds examples\n  her2cds examples breast-her2-low > case.json",
    "serve": "examples:\n  her2cds serve\n  her2cds serve --host 127.0.0.1 --port 9000\n"
             "  her2cds serve --demo      the web app on an example database: http://127.0.0.1:8080/app/",
    "completion": """examples:
  her2cds completion bash > ~/.local/share/bash-completion/completions/her2cds
  her2cds completion zsh > "${fpath[1]}/_her2cds"
  her2cds completion fish > ~/.config/fish/completions/her2cds.fish""",
}


def epilog(name: str) -> str:
    """The examples of a command followed by the exit codes."""
    return f"{EPILOGS[name]}\n\n{EXIT_CODES}" if name in EPILOGS else EXIT_CODES


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the epilog's layout and adds ``(default: ...)`` to every option that has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


# -- completion -----------------------------------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for name, sub in _subparsers(parser).items():
        yield from _walk(sub, (*path, name))


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--") or s == "-h"]


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    """Fixed values of the options and positionals (e.g. --format json text; schema input output)."""
    found: list[str] = []
    for action in parser._actions:
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            found.extend(str(c) for c in action.choices)
    return found


def _bash(prog: str, parser: argparse.ArgumentParser) -> str:
    cases = []
    for path, sub in _walk(parser):
        words = " ".join([*_subparsers(sub), *_options(sub), *_choices(sub)])
        cases.append(f'    "{" ".join(path)}") words="{words}" ;;')
    func = f"_{prog}_complete"
    return "\n".join([
        f"# bash completion for {prog} (generated by `{prog} completion bash`)",
        f"{func}() {{",
        "    local cur path word i",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    path=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        '        case "$word" in -*) continue ;; esac',
        f'        case " $(_{prog}_children "$path") " in *" $word "*) path="${{path:+$path }}$word" ;; esac',
        "    done",
        '    local words=""',
        '    case "$path" in',
        *cases,
        "    esac",
        '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        '    [ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur"))',
        "}",
        f"_{prog}_children() {{",
        '    case "$1" in',
        *[f'    "{" ".join(path)}") echo "{" ".join(_subparsers(sub))}" ;;' for path, sub in _walk(parser)],
        "    esac",
        "}",
        f"complete -F {func} {prog}",
        "",
    ])


def _zsh(prog: str, parser: argparse.ArgumentParser) -> str:
    # zsh runs bash completion functions through bashcompinit; the word lists stay in one place
    return "\n".join([
        f"#compdef {prog}",
        f"# zsh completion for {prog} (generated by `{prog} completion zsh`)",
        "autoload -U +X bashcompinit && bashcompinit",
        _bash(prog, parser),
    ])


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: (a.help or "") for a in action._choices_actions}
    return {}


def _fish(prog: str, parser: argparse.ArgumentParser) -> str:
    lines = [f"# fish completion for {prog} (generated by `{prog} completion fish`)"]
    for path, sub in _walk(parser):
        children = _subparsers(sub)
        if not path:
            guard = "__fish_use_subcommand"
        elif children:
            guard = f"__fish_seen_subcommand_from {path[-1]}; and not __fish_seen_subcommand_from {' '.join(children)}"
        else:
            guard = f"__fish_seen_subcommand_from {path[-1]}"
        for name, text in _helps(sub).items():
            lines.append(f"complete -c {prog} -f -n '{guard}' -a {name} -d '{text.replace(chr(39), '')[:70]}'")
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--"):
                    extra = f" -x -a '{' '.join(str(c) for c in action.choices)}'" if action.choices else ""
                    lines.append(f"complete -c {prog} -n '{guard}' -l {option[2:]}{extra}")
        positional = [str(c) for a in sub._actions if not a.option_strings and a.choices
                      and not isinstance(a, argparse._SubParsersAction) for c in a.choices]
        if positional:
            lines.append(f"complete -c {prog} -f -n '{guard}' -a '{' '.join(positional)}'")
    return "\n".join([*lines, ""])


def completion_script(shell: str, parser: argparse.ArgumentParser) -> str:
    prog = parser.prog
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](prog, parser)
