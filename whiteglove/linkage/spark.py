"""The Spark session the Spark backend runs Splink on, and its scratch folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

from whiteglove.config import SparkConfig
from whiteglove.linkage.errors import LinkageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(options: SparkConfig) -> SparkSession:
    """A Spark session that can run Splink's model; one already running is reused.

    Reuse matters beyond speed: a process has one Spark driver, and a second session
    with other settings cannot start beside it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise LinkageError(
            "linkage.backend is spark, but pyspark is not installed: "
            "pip install 'whiteglove[spark]'"
        ) from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise LinkageError("linkage.backend is spark, which needs Java 17 or later (java)")
    from splink.backends.spark import similarity_jar_location

    conf = {
        "spark.app.name": "whiteglove-linkage",
        # progress bars would interleave with the run's own progress lines
        "spark.ui.showConsoleProgress": "false",
        # YAML's true is Python's True, which Spark would not read as a boolean
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.conf.items()},
    }
    # Splink's Jaro-Winkler and other similarity functions ship as a jar for the JVM
    jars = [j for j in conf.get("spark.jars", "").split(",") if j]
    conf["spark.jars"] = ",".join([*jars, similarity_jar_location()])
    builder = SparkSession.builder.master(options.master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    started_here = SparkSession.getActiveSession() is None
    spark = builder.getOrCreate()
    if started_here:
        # Spark warns on every table Splink writes (names starting with "_" look hidden to
        # it, yet are read); the run's own log says what matters
        spark.sparkContext.setLogLevel("ERROR")
    context = spark.sparkContext
    if options.checkpoint_dir:
        context.setCheckpointDir(options.checkpoint_dir)
    elif context.getCheckpointDir() is None:
        context.setCheckpointDir(_scratch_dir())
    return spark


def _scratch_dir() -> str:
    """A local folder for Splink's intermediate Parquet tables, removed at process exit."""
    path = tempfile.mkdtemp(prefix="whiteglove-spark-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
