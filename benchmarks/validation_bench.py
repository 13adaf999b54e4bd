"""Time `validate` with the crm suite on a 1,000,000-row standardized-like frame.

    python benchmarks/validation_bench.py [--rows N] [--repeats R]

Prints JSON. The timing covers everything `validate` does (filtering accepted rows, the
pandas conversion, GX, building outcomes); GX is imported once before timing starts, as it
would be in a long-running process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whiteglove.validation import load_suite, validate  # noqa: E402


def standardized_frame(rows: int, seed: int = 7) -> pl.DataFrame:
    """A canonical crm-like frame with realistic gaps, built with vectorized numpy/polars."""
    rng = np.random.default_rng(seed)

    def gaps(values: pl.Series, rate: float) -> pl.Series:
        return values.set(pl.Series(rng.random(rows) < rate), None)  # type: ignore[arg-type]

    ids = pl.Series(np.arange(rows) * 2 + 1).cast(pl.String).str.zfill(8)
    first = pl.Series(rng.choice(["Ana", "José", "María", "Carlos", "Lucía", "Pablo"], rows))
    last = pl.Series(rng.choice(["García", "López", "Martín", "Pérez Gil", "Sanz"], rows))
    email = pl.Series(rng.integers(0, 10**9, rows)).cast(pl.String) + "@example.es"
    phone = "+346" + pl.Series(rng.integers(10**7, 10**8, rows)).cast(pl.String)
    dob = pl.Series(rng.integers(-20_000, 12_000, rows).astype("datetime64[D]")).cast(pl.Date)
    updated = pl.Series(
        (rng.integers(1_300_000_000, 1_730_000_000, rows) * 1_000_000).astype("datetime64[us]")
    )
    postcode = pl.Series(rng.integers(1_000, 52_999, rows)).cast(pl.String).str.zfill(5)
    signup = pl.Series(rng.integers(10_000, 20_000, rows).astype("datetime64[D]")).cast(pl.Date)
    frame = pl.DataFrame(
        {
            "record_key": "crm:" + ids,
            "source": pl.Series(["crm"] * rows),
            "source_record_id": ids,
            "row_number": pl.Series(np.arange(1, rows + 1), dtype=pl.Int64),
            "trust": pl.Series(np.ones(rows), dtype=pl.Int32),
            "updated_at": updated,
            "first_name": gaps(first, 0.001),
            "last_name": gaps(last, 0.002),
            "email": gaps(email, 0.05),
            "phone": gaps(phone, 0.07),
            "date_of_birth": gaps(dob, 0.05),
            "address_line": gaps(
                "Calle Mayor " + pl.Series(rng.integers(1, 200, rows)).cast(pl.String), 0.03
            ),
            "city": pl.Series(rng.choice(["Madrid", "Barcelona", "Sevilla", "Bilbao"], rows)),
            "postcode": gaps(postcode, 0.03),
            "region": pl.Series(rng.choice(["Madrid", "Barcelona", "Sevilla", "Bizkaia"], rows)),
            "country": pl.Series(["ES"] * rows),
            "national_id": pl.Series([None] * rows, dtype=pl.String),
            "signup_date": signup.dt.strftime("%d/%m/%Y"),
            "_rejected": pl.Series(rng.random(rows) < 0.003),
        }
    )
    no_reasons = pl.lit([], dtype=pl.List(pl.String))
    frame = frame.with_columns(
        (pl.col("first_name") + " " + pl.col("last_name")).alias("full_name"),
        # A few rejected rows, as standardize would produce them.
        pl.when(pl.col("_rejected"))
        .then(pl.lit(["duplicate record id"], dtype=pl.List(pl.String)))
        .otherwise(no_reasons)
        .alias("_reasons"),
        no_reasons.alias("_invalid"),
    ).drop("_rejected")
    assert frame["date_of_birth"].max() <= date.today()  # type: ignore[operator]
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    frame = standardized_frame(args.rows)
    build_seconds = time.perf_counter() - started
    suite = load_suite(ROOT / "expectations" / "crm.json")

    started = time.perf_counter()
    import great_expectations  # noqa: F401 - import cost reported apart from validation

    import_seconds = time.perf_counter() - started

    timings, result = [], None
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = validate(frame, suite, "standardized")
        timings.append(time.perf_counter() - started)
    assert result is not None
    print(
        json.dumps(
            {
                "rows": args.rows,
                "suite": "crm",
                "stage": "standardized",
                "expectations": len(result.outcomes),
                "success": result.success,
                "failed": [o.name for o in result.outcomes if not o.success],
                "build_frame_seconds": round(build_seconds, 2),
                "gx_import_seconds": round(import_seconds, 2),
                "validate_seconds": [round(t, 2) for t in timings],
                "validate_median_seconds": round(statistics.median(timings), 2),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
