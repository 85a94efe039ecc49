"""Population screening over an OMOP CDM v5.4 database, compiled with Ibis.

One query per protocol (or one for several protocols with the same look-back,
:func:`compile_protocols`) runs on DuckDB (default), PostgreSQL or PySpark (a Parquet folder);
the results agree with the one-patient evaluator (tests compare them person by person).
"""

from __future__ import annotations

from hcctrial.eligibility.omop.compile import (
    CompiledProtocol,
    compile_protocol,
    compile_protocols,
)
from hcctrial.eligibility.omop.concepts import concept_map
from hcctrial.eligibility.omop.population import (
    PopulationResult,
    connect_omop,
    screen_population,
)
from hcctrial.eligibility.omop.records import records_from_omop
from hcctrial.eligibility.omop.spark import connect_spark, spark_session, write_parquet
from hcctrial.eligibility.omop.synthetic import synthetic_omop, write_duckdb

__all__ = [
    "CompiledProtocol",
    "PopulationResult",
    "compile_protocol",
    "compile_protocols",
    "concept_map",
    "connect_omop",
    "connect_spark",
    "records_from_omop",
    "screen_population",
    "spark_session",
    "synthetic_omop",
    "write_duckdb",
    "write_parquet",
]
