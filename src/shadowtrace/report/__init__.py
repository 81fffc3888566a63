"""The self-contained HTML report: headline figures, ranked findings with their
evidence, flows of money and goods, and the infrastructure dependency inventory.

>>> from shadowtrace.report import gather, render, write_report
"""

from shadowtrace.report.context import ReportContext, ReportOptions
from shadowtrace.report.data import gather
from shadowtrace.report.html import render, write_report
from shadowtrace.report.sections import Section, available_sections

__all__ = [
    "ReportContext",
    "ReportOptions",
    "Section",
    "available_sections",
    "gather",
    "render",
    "write_report",
]
