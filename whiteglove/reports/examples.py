"""Example pairs of the linkage report: a few scored pairs per match-weight band, each with
both records side by side (masked) and the waterfall of its match weight.

A band is a range of match weights (log2 odds) around the run's two thresholds: the review
floor and the match threshold, each a match probability turned into its weight. From the
bottom: clear non-match, below review, review band, just above the match threshold, certain
match; the outer bands start MARGIN bits (16 times the odds) beyond a threshold.

match_pairs keeps only each pair's total weight, so the chosen pairs (ten at most) are scored
again by the run's model through Splink's `score_pairs`, over all the run's records so that
term frequencies are the ones the run used. Splink's match weight is the prior's weight plus
each comparison's: mw_<comparison> (log2 m/u of the level the pair falls in) and, for a
comparison with term-frequency adjustments, mw_tf_adj_<comparison>. That sum is the
waterfall, step by step (`waterfall`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.masking import mask_frame
from whiteglove.reports.metrics import match_weight as to_weight

MARGIN = 4.0  # bits beyond a threshold where a band is "clear" or "certain": 16x the odds
PER_BAND = 2
# The fields a comparison of the model compares, as a person reads them; a comparison not
# listed here compares the field of its own name (email, phone, a declared match field...).
COMPARED_FIELDS = {
    "location": ("postcode", "city"),
    "address_key": ("address_line",),
}
# Pairs whose stored weight and the weight scored again differ by more than this were scored
# by an earlier run of an incremental chain (term frequencies have moved since).
SAME_WEIGHT = 1e-6


@dataclass(frozen=True)
class Band:
    key: str  # an html id: clear-non-match, below-review, review, above-match, certain-match
    name: str
    lo: float | None  # match weight, inclusive; None: unbounded
    hi: float | None  # match weight, exclusive; None: unbounded
    outcome: str  # what the run does with a pair there

    def holds(self, weight: float) -> bool:
        return (self.lo is None or weight >= self.lo) and (self.hi is None or weight < self.hi)

    def expr(self) -> pl.Expr:
        w = pl.col("match_weight")
        cond = pl.lit(True)
        if self.lo is not None:
            cond = cond & (w >= self.lo)
        if self.hi is not None:
            cond = cond & (w < self.hi)
        return cond


def probability(weight: float) -> float:
    """The match probability of a match weight: 2^w / (1 + 2^w), without overflow."""
    if weight >= 0:
        return 1.0 / (1.0 + 2.0 ** (-weight))
    return 2.0**weight / (1.0 + 2.0**weight)


def weight_bands(
    match_threshold: float, review_threshold: float, margin: float = MARGIN
) -> list[Band]:
    """The five bands of the report, from clear non-matches up, as match-weight ranges.

    Thresholds are match probabilities (review <= match), as the run uses them.
    """
    mw, rw = to_weight(match_threshold), to_weight(review_threshold)
    return [
        Band("clear-non-match", "Clear non-match", None, rw - margin, "kept apart"),
        Band("below-review", "Below review", rw - margin, rw, "kept apart"),
        Band("review", "Review band", rw, mw, "review queue"),
        Band("above-match", "Just above the match threshold", mw, mw + margin, "linked"),
        Band("certain-match", "Certain match", mw + margin, None, "linked"),
    ]


def pick_examples(pairs: pl.DataFrame, bands: Sequence[Band], per_band: int = PER_BAND) -> dict:
    """Up to `per_band` pairs of each band, {band key: frame of unique_id_l, unique_id_r,
    match_weight, match_probability, band_pairs}, the same every time for the same pairs.

    A band's pairs are ordered by weight (then ids) and cut in per_band + 1 equal parts; the
    pairs at the cuts are taken: for two, the pairs a third and two thirds of the way up, so
    the examples are typical of the band, not its edges.
    """
    columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability"]
    frame = pairs.select(*columns[:2], *(pl.col(c).cast(pl.Float64) for c in columns[2:])).filter(
        pl.col("match_weight").is_not_nan() & pl.col("match_weight").is_not_null()
    )
    picked = {}
    for band in bands:
        inside = frame.filter(band.expr()).sort(["match_weight", "unique_id_l", "unique_id_r"])
        n = inside.height
        if n <= per_band:
            rows = list(range(n))
        else:
            rows = sorted({min(n - 1, (k + 1) * n // (per_band + 1)) for k in range(per_band)})
        chosen = inside.with_row_index("_i").filter(pl.col("_i").is_in(rows)).drop("_i")
        picked[band.key] = chosen.with_columns(pl.lit(n, dtype=pl.Int64).alias("band_pairs"))
    return picked


# -------------------------------------------------------------------------------- waterfall


def level_for(comparison: Mapping[str, Any], gamma: int | None) -> Mapping[str, Any] | None:
    """The level of `comparison` a pair with comparison vector value `gamma` falls in.

    Splink numbers a comparison's levels in order: the null level -1, the other levels from
    (number of non-null levels - 1) down to 0.
    """
    levels = comparison.get("comparison_levels", [])
    if gamma is None:
        return None
    if gamma == -1:
        return next((lv for lv in levels if lv.get("is_null_level")), None)
    others = [lv for lv in levels if not lv.get("is_null_level")]
    index = len(others) - 1 - int(gamma)
    return others[index] if 0 <= index < len(others) else None


def waterfall(row: Mapping[str, Any], model: Mapping[str, Any]) -> dict:
    """How a scored pair's match weight adds up, from Splink's intermediate columns.

    `row` holds, per comparison of `model`, gamma_<name>, mw_<name> and, with term-frequency
    adjustments, mw_tf_adj_<name>. Returns prior (the weight of the model's
    probability_two_random_records_match), steps (one per comparison in model order: name,
    level label, weight including tf, of which tf, start and end of the running total), and
    match_weight and match_probability: the prior plus every step.
    """
    lam = float(model["probability_two_random_records_match"])
    prior = math.log2(lam / (1 - lam))
    total = prior
    steps = []
    for comparison in model.get("comparisons", []):
        name = comparison["output_column_name"]
        if f"mw_{name}" not in row:
            continue
        base = float(row[f"mw_{name}"] or 0.0)
        tf = row.get(f"mw_tf_adj_{name}")
        tf = None if tf is None else float(tf)
        weight = base + (tf or 0.0)
        level = level_for(comparison, row.get(f"gamma_{name}"))
        label = "" if level is None else str(level.get("label_for_charts") or "")
        steps.append(
            {
                "name": name,
                "label": label,
                "null": bool(level and level.get("is_null_level")),
                "weight": weight,
                "tf": tf if tf else None,
                "start": total,
                "end": total + weight,
            }
        )
        total += weight
    return {
        "prior": prior,
        "prior_probability": lam,
        "steps": steps,
        "match_weight": total,
        "match_probability": probability(total),
    }


# ------------------------------------------------------------------------- scoring, records


def score_match_frame(
    frame: pl.DataFrame, model: dict, keys: pl.DataFrame, config: LinkageConfig
) -> pl.DataFrame:
    """The pairs of `keys` (unique_id_l, unique_id_r) scored again by `model` on DuckDB,
    with Splink's intermediate columns (gamma_, mw_, mw_tf_adj_ per comparison).

    `frame` holds every record in the model's columns (`match_frame`; a run's match_records):
    term frequencies come from all of them, as when the run scored its pairs; only the
    records of the pairs are compared (every left one with every right one: a hundred pairs
    for ten examples).
    """
    from splink import DuckDBAPI, Linker

    from whiteglove.linkage.backends import duckdb_connection
    from whiteglove.linkage.model import in_dialect

    if keys.height == 0:
        return pl.DataFrame(schema={"unique_id_l": pl.String, "unique_id_r": pl.String})
    settings = {
        **in_dialect(model, "duckdb", config.match_fields),
        "blocking_rules_to_generate_predictions": [],
    }
    with duckdb_connection(config) as con:
        db = DuckDBAPI(connection=con)
        everyone = db.register(frame.to_arrow(), dataset_display_name="customer_records")
        linker = Linker(everyone, settings, log_level=logging.ERROR)
        sides = [
            db.register(
                frame.filter(
                    pl.col("unique_id").is_in(keys[f"unique_id_{side}"].implode())
                ).to_arrow(),
                dataset_display_name=f"example_records_{side}",
            )
            for side in ("l", "r")
        ]
        scored = linker.inference.score_pairs(*sides)
        table = pl.from_arrow(con.sql(f"select * from {scored.physical_name}").to_arrow_table())
    assert isinstance(table, pl.DataFrame)
    return keys.select("unique_id_l", "unique_id_r").join(
        table.drop("match_weight", "match_probability"),
        on=["unique_id_l", "unique_id_r"],
        how="left",
    )


def compared_fields(model: Mapping[str, Any], columns: Sequence[str]) -> dict[str, tuple]:
    """Each comparison's fields of the records, as a person reads them."""
    out = {}
    for comparison in model.get("comparisons", []):
        name = comparison["output_column_name"]
        fields = COMPARED_FIELDS.get(name, (name,))
        out[name] = tuple(f for f in fields if f in columns)
    return out


def masked_records(records: pl.DataFrame, keys: Sequence[str], fields: Sequence[str]) -> dict:
    """{record_key: {field: value as shown}} of `keys`, personal values masked
    (whiteglove.masking: an email to its first letter and domain, a phone or national id to
    its last three characters, a birth date to its year, an address to initials)."""
    wanted = [f for f in dict.fromkeys(fields) if f in records.columns and f != "record_key"]
    rows = records.filter(pl.col("record_key").is_in(list(keys))).select("record_key", *wanted)
    shown = mask_frame(rows)
    return {
        r["record_key"]: {f: None if r[f] is None else str(r[f]) for f in wanted}
        for r in shown.iter_rows(named=True)
    }


def example_pairs(
    match_pairs: pl.DataFrame,
    records: pl.DataFrame,
    compared: pl.DataFrame,
    model: dict,
    choices: dict,
    config: LinkageConfig,
    per_band: int = PER_BAND,
) -> list[dict]:
    """The report's examples: per band (`weight_bands` of the run's thresholds), its edges,
    how many scored pairs it holds, and up to `per_band` pairs, each with both records side
    by side, comparison by comparison (masked), and the waterfall of its match weight.

    `records` are the customer records as shown (masked); `compared` the same records in the
    model's columns (the run's match_records), which score the pairs again."""
    match_threshold = choices["match_threshold"]["value"]
    review_threshold = choices["review_threshold"]
    bands = weight_bands(match_threshold, review_threshold)
    picked = pick_examples(match_pairs, bands, per_band)
    keys = pl.concat([picked[b.key] for b in bands]).select("unique_id_l", "unique_id_r")
    scored = score_match_frame(compared, model, keys, config)
    by_pair = {(r["unique_id_l"], r["unique_id_r"]): r for r in scored.iter_rows(named=True)}
    fields = compared_fields(model, records.columns)
    shown = masked_records(
        records,
        [*keys["unique_id_l"], *keys["unique_id_r"]],
        [f for fs in fields.values() for f in fs],
    )
    out = []
    for band in bands:
        pairs = []
        for pair in picked[band.key].iter_rows(named=True):
            left, right = pair["unique_id_l"], pair["unique_id_r"]
            row = by_pair.get((left, right))
            if row is None or shown.get(left) is None or shown.get(right) is None:
                continue
            fall = waterfall(row, model)
            pairs.append(
                {
                    "left": left,
                    "right": right,
                    "match_weight": pair["match_weight"],
                    "match_probability": pair["match_probability"],
                    "rescored_differs": abs(fall["match_weight"] - pair["match_weight"])
                    > SAME_WEIGHT * max(1.0, abs(pair["match_weight"])),
                    "waterfall": fall,
                    "comparisons": _side_by_side(fall, fields, shown[left], shown[right]),
                }
            )
        out.append(
            {
                "key": band.key,
                "name": band.name,
                "lo": band.lo,
                "hi": band.hi,
                "lo_probability": None if band.lo is None else probability(band.lo),
                "hi_probability": None if band.hi is None else probability(band.hi),
                "outcome": band.outcome,
                "pairs_in_band": int(picked[band.key]["band_pairs"].first() or 0)
                if picked[band.key].height
                else 0,
                "pairs": pairs,
            }
        )
    return out


def _side_by_side(fall: dict, fields: dict, left: dict, right: dict) -> list[dict]:
    """One row per comparison: its fields' values in each record, its level and weight."""

    def value(record: dict, names: tuple) -> str | None:
        values = [record.get(f) for f in names if record.get(f) not in (None, "")]
        return " · ".join(values) if values else None

    return [
        {
            "name": step["name"],
            "fields_note": ", ".join(f for f in fields.get(step["name"], ()))
            if fields.get(step["name"], ()) != (step["name"],)
            else "",
            "left": value(left, fields.get(step["name"], ())),
            "right": value(right, fields.get(step["name"], ())),
            "label": step["label"],
            "null": step["null"],
            "weight": step["weight"],
            "tf": step["tf"],
        }
        for step in fall["steps"]
    ]
