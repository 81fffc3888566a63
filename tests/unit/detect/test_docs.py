"""The docs list every registered detector with its parameters, as generated."""

from __future__ import annotations

from pathlib import Path

from shadowtrace.detect.docs import BEGIN, END, detectors_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "detection.md"


def test_detection_doc_lists_the_registered_detectors() -> None:
    text = DOC.read_text(encoding="utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == detectors_markdown().strip(), (
        "docs/detection.md is out of date: regenerate the section between the markers with "
        "shadowtrace.detect.docs.detectors_markdown()"
    )
