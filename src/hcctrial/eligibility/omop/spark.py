"""OMOP tables stored as Parquet, screened with PySpark (``--omop spark:///path/to/folder``).

The folder holds one Parquet file or folder per OMOP table (``person.parquet`` or ``person/``,
as Spark and :func:`write_parquet` write them). Each is registered as a temporary view of a
local Spark session and the same compiled Ibis query runs on it. Spark needs a Java runtime
(OpenJDK 17 works with PySpark 3.5 and 4.0).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from hcctrial.errors import InputError

__all__ = ["connect_spark", "spark_session", "write_parquet"]


def spark_session(master: str | None = None) -> Any:
    """A Spark session for screening (``local[2]`` unless ``master`` or ``HCCTRIAL_SPARK_MASTER``).

    UTC session time zone (dates must not move), few shuffle partitions (small local data),
    no web UI, and the JVM's JIT compiles huge methods (``-XX:-DontCompileHugeMethods``: the
    code Spark generates for the screen's wide aggregates is over HotSpot's 8,000-byte limit
    and ran interpreted; at 100,000 persons the feature table's last stage took 60 s of
    executor time, 17 s with the option). Raises :class:`InputError` when Java or PySpark is
    missing.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise InputError(
            "Spark needs a Java runtime and none was found",
            expected="java on the PATH or JAVA_HOME (Debian: apt-get install default-jre-headless)",
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("PySpark is not installed", expected="pip install pyspark") from None
    builder: Any = SparkSession.builder
    session = (
        builder.master(master or os.environ.get("HCCTRIAL_SPARK_MASTER", "local[2]"))
        .appName("hcctrial-screen")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-XX:-DontCompileHugeMethods")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("HCCTRIAL_SPARK_DRIVER_MEMORY", "2g"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def write_parquet(tables: dict[str, pl.DataFrame], folder: str | Path) -> Path:
    """Write each table as ``<folder>/<name>.parquet`` (the layout :func:`connect_spark` reads)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.write_parquet(out / f"{name}.parquet")
    return out


def connect_spark(folder: str | Path, tables: tuple[str, ...], session: Any = None) -> Any:
    """An Ibis PySpark connection with the OMOP ``tables`` of ``folder`` as temporary views.

    Raises :class:`InputError` naming the folder and the tables it lacks.
    """
    import ibis

    root = Path(folder)
    if not root.is_dir():
        raise InputError("OMOP Parquet folder not found", file=str(root), expected="a folder")
    paths: dict[str, Path] = {}
    for name in tables:
        for candidate in (root / f"{name}.parquet", root / name):
            if candidate.exists():
                paths[name] = candidate
                break
    missing = [t for t in tables if t not in paths]
    if missing:
        raise InputError(
            "OMOP CDM tables missing: " + ", ".join(missing),
            file=str(root),
            expected="one <table>.parquet file or folder per table: " + ", ".join(tables),
        )
    spark = session or spark_session()
    for name, path in paths.items():
        spark.read.parquet(str(path)).createOrReplaceTempView(name)
    return ibis.pyspark.connect(spark)
