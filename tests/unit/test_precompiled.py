"""The precompiled knowledge base (D14.3): read from the user cache while the YAML and code are unchanged,
never stale, never required."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from her2cds.knowledge import loader, precompiled
from her2cds.knowledge.loader import data_root, load_knowledge_base

ALL_FILES = len([p for p in data_root().rglob("*.yaml") if p.name != "code_map.yaml"])  # the FHIR code table
# is read by its own loader


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / "kb").glob("*.pickle"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HER2CDS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def yaml_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every YAML parse (by path) while still parsing."""
    calls: list[Path] = []
    real = loader._parse_yaml

    def spy(content: bytes, path: Path, what: str) -> Any:
        calls.append(path)
        return real(content, path, what)

    monkeypatch.setattr(loader, "_parse_yaml", spy)
    return calls


def test_second_load_reads_no_yaml_and_gives_the_same_knowledge(cache: Path, yaml_calls: list[Path]) -> None:
    first = load_knowledge_base()
    assert len(yaml_calls) == ALL_FILES
    assert len(_entries(cache)) == ALL_FILES
    yaml_calls.clear()
    second = load_knowledge_base()
    assert yaml_calls == []
    assert list(second.entries()) == list(first.entries())
    assert second.version == first.version and second.sources == first.sources


def test_an_edited_file_is_read_again_never_stale(cache: Path, tmp_path: Path, yaml_calls: list[Path]) -> None:
    root = tmp_path / "kb"
    shutil.copytree(data_root(), root)
    load_knowledge_base(root)
    meta = root / "kb.yaml"
    text = meta.read_text(encoding="utf-8")
    assert "title:" in text
    meta.write_text(text.replace("title:", "title: Edited", 1), encoding="utf-8")
    yaml_calls.clear()
    kb = load_knowledge_base(root)
    assert yaml_calls == [meta]
    assert kb.meta.title.startswith("Edited")


def test_corrupt_entries_fall_back_to_the_yaml(cache: Path, yaml_calls: list[Path]) -> None:
    expected = list(load_knowledge_base().entries())
    for entry in _entries(cache):
        entry.write_bytes(b"not a pickle")
    yaml_calls.clear()
    assert list(load_knowledge_base().entries()) == expected
    assert len(yaml_calls) == ALL_FILES


def test_an_entry_others_can_write_is_not_trusted(cache: Path, yaml_calls: list[Path]) -> None:
    load_knowledge_base()
    victim = _entries(cache)[0]
    victim.chmod(0o666)
    yaml_calls.clear()
    load_knowledge_base()
    assert len(yaml_calls) == 1


def test_cache_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_calls: list[Path]) -> None:
    monkeypatch.setenv("HER2CDS_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert precompiled.cache_dir() is None
    load_knowledge_base()
    load_knowledge_base()
    assert len(yaml_calls) == 2 * ALL_FILES
    assert not any(tmp_path.iterdir())


def test_an_unusable_cache_directory_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("HER2CDS_CACHE_DIR", str(blocker / "below"))  # cannot be created, even by root
    assert load_knowledge_base().version


def test_default_location_is_the_user_cache_never_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HER2CDS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert precompiled.cache_dir() == tmp_path / "her2cds" / "kb"
    monkeypatch.delenv("XDG_CACHE_HOME")
    folder = precompiled.cache_dir()
    assert folder is not None and folder == Path.home() / ".cache" / "her2cds" / "kb"
    package = Path(precompiled.__file__).resolve().parents[1]
    assert package not in folder.resolve().parents


def test_the_key_depends_on_bytes_and_model() -> None:
    from her2cds.knowledge.schema import MetaFile, SourcesFile

    assert precompiled.entry_key(MetaFile, b"a") != precompiled.entry_key(MetaFile, b"b")
    assert precompiled.entry_key(MetaFile, b"a") != precompiled.entry_key(SourcesFile, b"a")
    assert precompiled.entry_key(MetaFile, b"a") == precompiled.entry_key(MetaFile, b"a")
