"""Where Splink runs: a DuckDB connection of this process, or a Spark session."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.spark import spark_session
from whiteglove.machine import DuckDBLimits, duckdb_limits

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPI
    from splink.internals.splink_dataframe import SplinkDataFrame


@dataclass(frozen=True)
class Backend:
    """The records registered where Splink runs, its SQL dialect, and a reader of results."""

    records: SplinkDataFrame
    dialect: str
    query: Callable[[str], pl.DataFrame]


@contextmanager
def duckdb_connection(config: LinkageConfig) -> Iterator[duckdb.DuckDBPyConnection]:
    """A working DuckDB connection that spills to a temporary folder of its own."""
    # Closed on the way out, whatever happens: the connection holds Splink's tables (the
    # scored pairs, term frequencies, training samples), gigabytes at a million records.
    with (
        tempfile.TemporaryDirectory(prefix="whiteglove-duckdb-") as spill,
        duckdb.connect(config=duckdb_config(linking_limits(config), spill)) as con,
    ):
        yield con


def duckdb_config(limits: DuckDBLimits, spill_dir: str) -> dict[str, str]:
    """DuckDB settings for a working connection: bounded threads and memory, spilling to
    `spill_dir`.

    DuckDB's own default takes 80% of the machine's memory, and an in-memory database spills
    into the current directory; a pipeline shares the machine and must not write there.
    """
    return {**limits.config(), "temp_directory": spill_dir}


def linking_limits(config: LinkageConfig) -> DuckDBLimits:
    """The threads and memory of this run's linking connection (linkage.duckdb_*)."""
    return duckdb_limits(config.duckdb_memory_limit, config.duckdb_threads)


def open_backend(
    config: LinkageConfig, con: duckdb.DuckDBPyConnection, frame: pl.DataFrame
) -> Backend:
    """`frame` registered as Splink's input on `config.backend` (`con` for DuckDB)."""
    db_api, query = _database(config, con)
    records = db_api.register(frame.to_arrow(), dataset_display_name="customer_records")
    return Backend(records, db_api.sql_dialect.sql_dialect_str, query)


def _database(
    config: LinkageConfig, con: duckdb.DuckDBPyConnection
) -> tuple[DatabaseAPI, Callable[[str], pl.DataFrame]]:
    """Splink's database API for `config.backend`, and a reader of its query results.

    Results come back through Arrow, column types intact, with no pandas in between.
    """
    if config.backend == "spark":
        from splink import SparkAPI

        spark = spark_session(config.spark)
        # a session outlives a run (a DuckDB connection does not): the previous run's input
        # table would block registering this one under the same name
        spark.catalog.dropTempView("customer_records")
        return SparkAPI(spark_session=spark), lambda sql: _polars(spark.sql(sql).toArrow())
    from splink import DuckDBAPI

    return DuckDBAPI(connection=con), lambda sql: _polars(con.sql(sql).to_arrow_table())


def _polars(table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame
