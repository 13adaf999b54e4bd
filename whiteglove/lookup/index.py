"""Which of our customers is this? One record resolved against a published golden table.

A run publishes what a lookup needs beside the golden table, in the same snapshot:
`match_records` (every accepted record as the model compared it, with its golden id) and
`match_settings.json` (the standardization settings, declared match fields, blocking rules and
match threshold of that run), next to `model.json`. An index is built from one snapshot only
(`latest` is read once, then every file from the snapshot it names), so it never mixes two
publications, and a run publishing meanwhile never disturbs it.

Candidates come through the run's own blocking rules: for each rule, the records that agree
with the caller's record on every column of the rule (a sorted array of key hashes per rule,
binary-searched: no scan of the records). The published model scores them (scoring.py), and
each golden customer is ranked by its best-scoring record.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from whiteglove.config import LimitsConfig, MatchField, SourcesConfig, ValidityConfig
from whiteglove.layout import OutputLayout
from whiteglove.lookup.query import query_frame
from whiteglove.lookup.scoring import CompiledModel
from whiteglove.plain_words import level_words, prior_words
from whiteglove.publish import PreviousPublication
from whiteglove.reports.examples import waterfall

MATCH_RECORDS = "match_records"  # the published table: a record's match columns and golden id
MATCH_SETTINGS = "match_settings.json"
MODEL = "model.json"
# A blocking key shared by more records than this (a common first name and surname) says too
# little about who is calling to be worth scoring them all; the other rules still apply.
MAX_KEY_GROUP = 1_000
TOP = 5
_HASH_SEED = 0


class LookupUnavailable(RuntimeError):
    """Nothing is published in the output folder, or it lacks what a lookup needs."""


def match_settings(config: SourcesConfig, choices: Mapping[str, Any]) -> dict:
    """What a lookup needs to treat one record as the run treated its records."""
    return {
        "version": 1,
        "country": config.defaults.country,
        "validity": config.validity.model_dump(mode="json"),
        "max_field_chars": config.limits.max_field_chars,
        "match_fields": {
            n: f.model_dump(mode="json") for n, f in config.linkage.match_fields.items()
        },
        "blocking_rules": [list(r) for r in choices.get("blocking_rules", [])],
        # rules the run kept for rare values only: a lookup skips their larger groups too
        "capped_blocking_rules": list(choices.get("capped_blocking_rules", [])),
        "match_threshold": choices["match_threshold"]["value"],
    }


def match_records(frame: pl.DataFrame, xref: pl.DataFrame) -> pl.DataFrame:
    """The records as the model compared them (`frame`: unique_id and match columns), each
    with the golden id that holds it (`xref`: record_key, golden_id)."""
    return xref.select(pl.col("record_key").alias("unique_id"), "golden_id").join(
        frame, on="unique_id", how="left", maintain_order="left"
    )


@dataclass(frozen=True)
class KeyIndex:
    """One blocking rule's keys, sorted, with the row each belongs to."""

    columns: tuple[str, ...]
    hashes: np.ndarray
    rows: np.ndarray
    max_group: int = MAX_KEY_GROUP  # a key shared by more records is too common to use

    @classmethod
    def build(
        cls, records: pl.DataFrame, columns: Sequence[str], max_group: int = MAX_KEY_GROUP
    ) -> KeyIndex:
        keys = records.select(key_expression(columns)).to_series()
        present = keys.is_not_null().to_numpy()
        rows = np.flatnonzero(present)
        hashes = keys.filter(keys.is_not_null()).to_numpy()
        order = np.argsort(hashes, kind="stable")
        return cls(tuple(columns), hashes[order], rows[order], max_group)

    def rows_for(self, key: int | None) -> np.ndarray | None:
        """The rows whose key is `key` (the hash `key_expression` gives a record's columns);
        None when the record lacks one of the columns."""
        if key is None:
            return None
        # as the array's own type: a Python int would have NumPy convert the whole array
        key = np.uint64(key)
        lo = np.searchsorted(self.hashes, key, side="left")
        hi = np.searchsorted(self.hashes, key, side="right")
        return self.rows[lo:hi]


def key_expression(columns: Sequence[str]) -> pl.Expr:
    """A record's blocking key for a rule on `columns`: null unless every column has a value."""
    present = pl.all_horizontal([pl.col(c).is_not_null() for c in columns])
    return pl.when(present).then(pl.struct(list(columns)).hash(seed=_HASH_SEED)).alias("key")


class LookupIndex:
    """The golden customers of one published snapshot, ready to resolve single records."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot
        self.version = records_version(snapshot)
        try:
            settings = json.loads((snapshot / MATCH_SETTINGS).read_text(encoding="utf-8"))
            model = json.loads((snapshot / MODEL).read_text(encoding="utf-8"))
            # one chunk: picking a few rows out of a many-chunked frame costs tens of ms
            records = pl.read_parquet(snapshot / f"{MATCH_RECORDS}.parquet").rechunk()
        except (OSError, ValueError) as exc:
            raise LookupUnavailable(
                f"the publication {snapshot} lacks what a lookup needs ({exc}); run "
                "`whiteglove run` with this version first"
            ) from None
        self.threshold = float(settings["match_threshold"])
        self.country = str(settings["country"])
        self.validity = ValidityConfig.model_validate(settings["validity"])
        self.limits = LimitsConfig(max_field_chars=int(settings["max_field_chars"]))
        self.declared = {
            n: MatchField.model_validate(f) for n, f in settings["match_fields"].items()
        }
        self.model = model
        self.records = records
        capped = {
            tuple(r["columns"]): int(r["max_block"])
            for r in settings.get("capped_blocking_rules", [])
        }
        self.rules = [
            KeyIndex.build(records, rule, capped.get(tuple(rule), MAX_KEY_GROUP))
            for rule in settings["blocking_rules"]
        ]
        self.scorer = CompiledModel(model, records)
        self._con = duckdb.connect(config={"threads": "1"})
        self._lock = threading.Lock()

    @classmethod
    def open(cls, out_dir: Path) -> LookupIndex:
        """The index of what `out_dir` publishes now."""
        snapshot = published_snapshot(out_dir)
        if snapshot is None:
            raise LookupUnavailable(f"nothing is published in {out_dir}; run `whiteglove run`")
        return cls(snapshot)

    def lookup(self, values: Mapping[str, object], top: int = TOP) -> dict:
        """The golden customers `values` (a raw record: field name to text) may be, best
        first, each with its probability and why; "no match" when none clears the run's
        match threshold. Raises LookupInputError for a record that cannot be used."""
        query, invalid = query_frame(
            values,
            declared=self.declared,
            country=self.country,
            validity=self.validity,
            limits=self.limits,
        )
        schema = self.records.schema
        query = query.cast({c: schema[c] for c in query.columns if c in schema})
        rows, skipped = self._candidates(query)
        candidates = self.records[rows] if len(rows) else self.records.clear()
        with self._lock:
            scored = self.scorer.score(self._con, query, candidates) if len(rows) else None
        ranked = self._ranked(scored, candidates, top)
        best = ranked[0] if ranked else None
        matched = best is not None and best["probability"] >= self.threshold
        return {
            "result": "match" if matched else "no match",
            "golden_id": best["golden_id"] if matched else None,
            "ambiguous": sum(c["probability"] >= self.threshold for c in ranked) > 1,
            "candidates": ranked,
            "match_threshold": self.threshold,
            "records_compared": int(len(rows)),
            "invalid_fields": invalid,
            "blocking_keys_too_common": skipped,
            "publication": self.snapshot.name,
        }

    def _candidates(self, query: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
        # every rule's key in one pass over the record: a select per rule costs milliseconds
        keys = query.select(
            [key_expression(r.columns).alias(f"rule_{i}") for i, r in enumerate(self.rules)]
        ).row(0)
        found, skipped = [], []
        for rule, key in zip(self.rules, keys, strict=True):
            rows = rule.rows_for(key)
            if rows is None or len(rows) == 0:
                continue
            if len(rows) > rule.max_group:
                skipped.append(" & ".join(rule.columns))
                continue
            found.append(rows)
        rows = np.unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)
        return rows, skipped

    def _ranked(self, scored: pl.DataFrame | None, candidates: pl.DataFrame, top: int) -> list:
        if scored is None or scored.height == 0:
            return []
        golden = candidates.select(pl.col("unique_id").alias("unique_id_r"), "golden_id")
        best = (
            scored.join(golden, on="unique_id_r")
            .sort("match_weight", "unique_id_r", descending=[True, False])
            .unique("golden_id", keep="first", maintain_order=True)
            .head(top)
        )
        return [
            {
                "golden_id": row["golden_id"],
                "probability": round(float(row["match_probability"]), 6),
                "match_weight": round(float(row["match_weight"]), 3),
                "matched_record": row["unique_id_r"],
                "explanation": explanation(row, self.model),
            }
            for row in best.iter_rows(named=True)
        ]


def explanation(row: Mapping[str, Any], model: Mapping[str, Any]) -> dict:
    """A scored pair's weight of evidence in words (whiteglove/plain_words.py, as `explain`
    and the review page say it): the prior, then each field both records hold."""
    fall = waterfall(row, model)
    steps = [
        {
            "field": s["name"],
            "evidence": level_words(s["name"], s["label"]),
            "weight": round(s["weight"], 2),
        }
        for s in fall["steps"]
        if not s["null"]
    ]
    words = [prior_words(fall["prior"], fall["prior_probability"])]
    words += [f"{s['evidence']}: {s['weight']:+.1f}" for s in steps]
    return {"prior": round(fall["prior"], 2), "steps": steps, "text": "; ".join(words)}


def published_snapshot(out_dir: Path) -> Path | None:
    """The snapshot `out_dir/latest` names now, if it is one of the folder's own."""
    return PreviousPublication.pin(OutputLayout(out_dir)).snapshot


def records_version(snapshot: Path) -> tuple[int, int] | None:
    """Which file a snapshot's match records are: an erasure replaces it in place."""
    try:
        stat = (snapshot / f"{MATCH_RECORDS}.parquet").stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


class LiveIndex:
    """The index of the latest publication, swapped for a new one when a run publishes.

    The link is looked at on each request; a new publication is loaded in the background
    while the previous index keeps answering, then replaces it in one assignment.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._index = LookupIndex.open(out_dir)
        self._loading: threading.Thread | None = None
        self._guard = threading.Lock()
        self.last_error: str | None = None

    def current(self) -> LookupIndex:
        snapshot = published_snapshot(self.out_dir)
        # the same snapshot rewritten (`whiteglove forget`) is a new publication too
        if snapshot is not None and (
            snapshot != self._index.snapshot or records_version(snapshot) != self._index.version
        ):
            with self._guard:
                if self._loading is None or not self._loading.is_alive():
                    self._loading = threading.Thread(
                        target=self._load, args=(snapshot,), daemon=True
                    )
                    self._loading.start()
        return self._index

    def wait(self) -> None:
        """Block until a reload in progress has finished (for tests and start-up)."""
        loading = self._loading
        if loading is not None:
            loading.join()

    def _load(self, snapshot: Path) -> None:
        try:
            self._index = LookupIndex(snapshot)
            self.last_error = None
        except Exception as exc:  # keep answering from the index we have
            self.last_error = f"{type(exc).__name__}: {exc}"
