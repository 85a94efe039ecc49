"""Population screening over an OMOP CDM v5.4 database, compiled with Ibis.

One query per protocol runs on DuckDB (default), PostgreSQL or PySpark; the results agree with
the one-patient evaluator (tests compare them person by person).
"""

from __future__ import annotations

from hcctrial.eligibility.omop.compile import CompiledProtocol, compile_protocol
from hcctrial.eligibility.omop.concepts import concept_map
from hcctrial.eligibility.omop.population import (
    PopulationResult,
    connect_omop,
    screen_population,
)
from hcctrial.eligibility.omop.records import records_from_omop
from hcctrial.eligibility.omop.synthetic import synthetic_omop, write_duckdb

__all__ = [
    "CompiledProtocol",
    "PopulationResult",
    "compile_protocol",
    "concept_map",
    "connect_omop",
    "records_from_omop",
    "screen_population",
    "synthetic_omop",
    "write_duckdb",
]
