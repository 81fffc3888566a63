"""Documentation that cannot drift, and a public API that does not change by accident."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def test_cli_reference_is_current():
    import gen_cli_docs

    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == gen_cli_docs.render(), "run: python scripts/gen_cli_docs.py"


def test_every_extension_schema_is_documented():
    from shadowtrace.model import extension_schemata

    text = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for name in extension_schemata():
        assert f"**`{name}`**" in text, f"{name} is not in docs/data-model.md"


def test_every_typed_view_is_documented():
    from shadowtrace.store.views import VIEWS

    text = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for view in VIEWS:
        assert f"`{view.name}`" in text, f"view {view.name} is not in docs/data-model.md"


PUBLIC = {
    "shadowtrace": ["ConfigError", "DependencyMissing", "IngestError", "MappingError", "NotFound",
                    "ShadowtraceError", "StoreError", "__version__"],
    "shadowtrace.ingest": ["IngestReport", "MappingSpec", "Reject", "SourceReport", "ingest",
                           "load_mapping"],
    "shadowtrace.detect": ["Evidence", "Finding", "Step"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exported_members(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name)


def test_core_import_needs_no_optional_extra():
    """`import shadowtrace` works with the core install (no pyspark, no nomenklatura)."""
    code = (
        "import sys; import shadowtrace, shadowtrace.store, shadowtrace.ingest; "
        "bad = [m for m in ('pyspark', 'nomenklatura') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    import subprocess

    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_no_word_about_how_the_project_was_made():
    words = re.compile(r"\b(chatgpt|openai|anthropic|claude|copilot|llm|language model)\b", re.I)
    for path in [*ROOT.glob("src/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md"]:
        assert not words.search(path.read_text(encoding="utf-8")), path
