"""Ingest: read source files into the statement store, with provenance.

>>> from shadowtrace.ingest import ingest
"""

from shadowtrace.ingest.mapping import MappingSpec, load_mapping
from shadowtrace.ingest.run import IngestReport, Reject, SourceReport, ingest

__all__ = ["IngestReport", "MappingSpec", "Reject", "SourceReport", "ingest", "load_mapping"]
