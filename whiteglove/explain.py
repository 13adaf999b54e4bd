"""Why records are, or are not, one golden customer: answered from a published output folder.

`whiteglove explain --out DIR --golden-id ID` and `whiteglove explain --out DIR A B` (and the
review page) read only what a run published (whiteglove/layout.py): the crosswalk, the
records and the values the model compared (customer_records, match_records), the scored
pairs, the model with its blocking rules, the run summary (thresholds and cluster guards),
the steward decisions as the run resolved them, the changes, and the previous snapshot.

For two records the answer is one of: one customer (the links that join them); kept apart by
a steward decision; linked by the model but separated by a clustering guard (which one);
scored below the match threshold (the comparisons that weighed most); compared but scored
too low to be kept; or never compared (no blocking rule pairs them, each rule with the
field that differs). Every link comes with its waterfall: the prior, then each comparison's
match weight in plain words (whiteglove/plain_words.py), scored again by the run's model
(whiteglove/reports/examples.py). Personal values are masked unless the sources file
reveals them (whiteglove/masking.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl
import yaml

from whiteglove.clustering import Profile, customer_profiles, joined_conflicts
from whiteglove.config import LinkageConfig
from whiteglove.decisions import Decision, Resolved
from whiteglove.golden_confidence import golden_values, values_text
from whiteglove.layout import OutputLayout
from whiteglove.linkage.blocking import BLOCK_KEY_PREFIX
from whiteglove.masking import mask_frame
from whiteglove.plain_words import prior_words, step_words
from whiteglove.reports.examples import compared_fields, score_match_frame, waterfall
from whiteglove.review import SIDE_BY_SIDE

MAX_JSON_BYTES = 20 * 1024 * 1024
# the fields a steward compares side by side (whiteglove/review.py), with the name in its two
# parts, as survivorship picks them
SHOWN_FIELDS = tuple(
    part
    for field in SIDE_BY_SIDE
    for part in (("first_name", "last_name") if field == "full_name" else (field,))
)
# a blocking rule as whiteglove writes them: equalities of one column on both sides, joined
_EQUALITY = re.compile(r'l\."([A-Za-z_][A-Za-z0-9_]*)"\s*=\s*r\."([A-Za-z_][A-Za-z0-9_]*)"')
_GLUE = re.compile(r"^[\s()]*(?:AND[\s()]*)*$", re.IGNORECASE)


class ExplainError(ValueError):
    """The output folder cannot answer: nothing published, or an unknown record or id."""


@dataclass(frozen=True)
class Link:
    left: str
    right: str
    probability: float
    steward: str = ""  # a steward decision forcing it, described


class PublishedRun:
    """What one output folder published, read lazily and only through its published names."""

    def __init__(self, out: Path) -> None:
        self.layout = OutputLayout(Path(out))
        root = self.layout.root.resolve()
        if not self.layout.marker.exists() or not self.layout.latest.is_symlink():
            raise ExplainError(f"{out}: no whiteglove publication here (run `whiteglove run`)")
        self.snapshot = self.layout.latest.resolve()
        if root not in self.snapshot.parents:
            raise ExplainError(f"{out}: 'latest' points outside the output folder")

    def path(self, name: str, snapshot: Path | None = None) -> Path:
        path = (snapshot or self.snapshot) / name
        if path.is_symlink() or not path.is_file():
            raise ExplainError(f"{path}: missing from the publication (an older run?)")
        return path

    def _json(self, name: str) -> dict:
        path = self.path(name)
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ExplainError(f"{path}: larger than {MAX_JSON_BYTES >> 20} MB")
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise ExplainError(f"{path}: not a JSON object")
        return value

    @cached_property
    def summary(self) -> dict:
        return self._json("run_summary.json")

    @cached_property
    def model(self) -> dict:
        return self._json("model.json")

    @cached_property
    def decisions(self) -> Resolved:
        try:
            return Resolved.from_dict(self._json("steward_decisions.json"))
        except ExplainError:
            return Resolved("")

    @cached_property
    def xref(self) -> pl.DataFrame:
        return _keyed(pl.read_parquet(self.path("customer_xref.parquet")))

    @cached_property
    def records(self) -> pl.DataFrame:
        return pl.read_parquet(self.path("customer_records.parquet"))

    @cached_property
    def match_records(self) -> pl.DataFrame:
        # published for lookups too (whiteglove/lookup/), with each record's golden id
        frame = pl.read_parquet(self.path("match_records.parquet"))
        return frame.drop("golden_id", strict=False)

    @cached_property
    def pairs(self) -> pl.DataFrame:
        return pl.read_parquet(self.path("match_pairs.parquet"))

    @cached_property
    def lineage(self) -> pl.DataFrame:
        return pl.read_parquet(self.path("golden_lineage.parquet"))

    @cached_property
    def changes(self) -> pl.DataFrame:
        return pl.read_parquet(self.path("golden_changes.parquet"))

    @cached_property
    def previous_xref(self) -> pl.DataFrame | None:
        """The crosswalk of the snapshot published before this one, if it is still kept."""
        older = sorted(
            p
            for p in self.layout.snapshots.iterdir()
            if p.is_dir()
            and not p.is_symlink()
            and not p.name.startswith(".")
            and p.name < self.snapshot.name
        )
        for snapshot in reversed(older):
            try:
                return _keyed(pl.read_parquet(self.path("customer_xref.parquet", snapshot)))
            except ExplainError:
                continue
        return None

    @cached_property
    def threshold(self) -> float:
        return float(self.summary["linkage"]["match_threshold"])

    @cached_property
    def guards(self) -> dict:
        return (self.summary["linkage"].get("choices") or {}).get("guards") or {}

    @cached_property
    def reveal(self) -> bool:
        """Whether the run's sources file reveals personal data (read, bounded, as YAML)."""
        try:
            path = Path(self.summary.get("sources_file", ""))
            if not path.is_file() or path.stat().st_size > 1 << 20:
                return False
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return bool((config.get("privacy") or {}).get("reveal_personal_data", False))
        except (OSError, yaml.YAMLError, AttributeError):
            return False

    def golden_of(self, key: str) -> str:
        found = self.xref.filter(pl.col("record_key") == key)["golden_id"]
        if found.is_empty():
            raise ExplainError(
                f"record {key} is not in this publication's crosswalk" + self._why_not(key)
            )
        return str(found[0])

    def _why_not(self, key: str) -> str:
        """Where a record missing from the crosswalk went, if the quarantine holds it: its
        reasons, never its raw text (personal data)."""
        try:
            quarantine = _keyed(pl.read_parquet(self.path("quarantine.parquet")))
        except ExplainError:
            return ""
        rows = quarantine.filter(pl.col("record_key") == key)
        if rows.is_empty():
            return ""
        row = rows.row(0, named=True)
        return (
            f": it was quarantined (row {row['row_number']} of {row['file']}: "
            f"{'; '.join(row['reasons'] or [])}); see quarantine.parquet"
        )

    def members(self, golden_id: str) -> list[str]:
        return sorted(self.xref.filter(pl.col("golden_id") == golden_id)["record_key"].to_list())

    def shown(self, keys: list[str]) -> dict[str, dict]:
        """{record_key: {field: value}}, masked unless revealed."""
        fields = [f for f in SHOWN_FIELDS if f in self.records.columns]
        rows = self.records.filter(pl.col("record_key").is_in(keys)).select("record_key", *fields)
        if not self.reveal:
            rows = mask_frame(rows)
        return {
            r["record_key"]: {f: None if r[f] is None else str(r[f]) for f in fields}
            for r in rows.iter_rows(named=True)
        }


def _keyed(xref: pl.DataFrame) -> pl.DataFrame:
    return xref.with_columns(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key")
    )


def parse_record(text: str) -> str:
    """SOURCE:ID as the command line takes it (a record key)."""
    source, sep, record = text.partition(":")
    if not sep or not source or not record:
        raise ExplainError(f"{text!r}: a record is SOURCE:ID, e.g. crm:C000123")
    return f"{source}:{record}"


# ------------------------------------------------------------------------------ waterfalls


def waterfalls(run: PublishedRun, links: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Each pair's waterfall in plain words, scored again by the run's model."""
    if not links:
        return {}
    keys = pl.DataFrame(links, schema=["unique_id_l", "unique_id_r"], orient="row")
    scored = score_match_frame(run.match_records, run.model, keys, LinkageConfig())
    out = {}
    for row in scored.iter_rows(named=True):
        fall = waterfall(row, run.model)
        out[(row["unique_id_l"], row["unique_id_r"])] = {
            "prior": round(fall["prior"], 2),
            "prior_text": prior_words(fall["prior"], fall["prior_probability"]),
            "steps": [
                {
                    "comparison": s["name"],
                    "level": s["label"],
                    "weight": round(s["weight"], 2),
                    "text": step_words(s["name"], s["label"], s["weight"], s["null"]),
                }
                for s in fall["steps"]
            ],
            "match_weight": round(fall["match_weight"], 2),
            "match_probability": round(fall["match_probability"], 4),
        }
    return out


# --------------------------------------------------------------------------------- links


def cluster_links(run: PublishedRun, keys: list[str]) -> list[Link]:
    """The links that hold these records together: the strongest tree through them, of the
    pairs at or above the match threshold and the links steward decisions force."""
    inside = set(keys)
    forced = {
        tuple(sorted(p)): d.describe()
        for d in run.decisions.applied
        for p in d.together()
        if set(p) <= inside
    }
    scored = run.pairs.filter(
        pl.col("unique_id_l").is_in(keys)
        & pl.col("unique_id_r").is_in(keys)
        & (pl.col("match_probability") >= run.threshold)
    )
    candidates = [Link(a, b, 1.0, why) for (a, b), why in forced.items()] + [
        Link(a, b, p)
        for a, b, p in scored.select("unique_id_l", "unique_id_r", "match_probability").rows()
    ]
    candidates.sort(key=lambda link: (not link.steward, -link.probability, link.left, link.right))
    parent = {k: k for k in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tree = []
    for link in candidates:
        a, b = find(link.left), find(link.right)
        if a != b:
            parent[a] = b
            tree.append(link)
    return tree


def _path(tree: list[Link], a: str, b: str) -> list[Link]:
    """The links of the tree from a to b."""
    edges: dict[str, list[tuple[str, Link]]] = {}
    for link in tree:
        edges.setdefault(link.left, []).append((link.right, link))
        edges.setdefault(link.right, []).append((link.left, link))
    previous: dict[str, tuple[str, Link] | None] = {a: None}
    pending = [a]
    while pending:
        node = pending.pop()
        for other, link in edges.get(node, []):
            if other not in previous:
                previous[other] = (node, link)
                pending.append(other)
    path = []
    node = b
    while previous.get(node):
        node, link = previous[node]  # type: ignore[misc]
        path.append(link)
    return list(reversed(path))


def _link_entry(link: Link, falls: dict) -> dict:
    fall = falls.get((link.left, link.right)) or falls.get((link.right, link.left))
    return {
        "left": link.left,
        "right": link.right,
        "match_probability": round(link.probability, 4),
        "steward": link.steward or None,
        "waterfall": fall,
    }


# -------------------------------------------------------------------------------- answers


def explain_golden(run: PublishedRun, golden_id: str) -> dict:
    """A golden customer: its records, its values and how sure each is
    (whiteglove/golden_confidence.py), the links that hold each record there, what changed."""
    keys = run.members(golden_id)
    change = _change(run, golden_id)
    if not keys and change is None:
        raise ExplainError(f"golden id {golden_id} is not in this publication")
    tree = cluster_links(run, keys)
    falls = waterfalls(run, [(link.left, link.right) for link in tree if not link.steward])
    return {
        "kind": "golden",
        "golden_id": golden_id,
        "records": run.shown(keys),
        "values": golden_values(run, golden_id),
        "links": [_link_entry(link, falls) for link in tree],
        "decisions": [d.describe() for d in _decisions_about(run, set(keys))],
        "change": change,
    }


def explain_pair(run: PublishedRun, a: str, b: str) -> dict:
    """Why two records are, or are not, one customer."""
    ga, gb = run.golden_of(a), run.golden_of(b)
    answer: dict = {
        "kind": "pair",
        "records": run.shown([a, b]),
        "golden_ids": {a: ga, b: gb},
        "decisions": [d.describe() for d in _decisions_about(run, {a, b})],
    }
    if ga == gb:
        path = _path(cluster_links(run, run.members(ga)), a, b)
        falls = waterfalls(run, [(link.left, link.right) for link in path if not link.steward])
        by_steward = [link.steward for link in path if link.steward]
        answer |= {
            "verdict": "same_customer",
            "reason": f"one customer ({ga}), joined by {len(path)} link(s)"
            + (f", of which by a steward decision: {'; '.join(by_steward)}" if by_steward else ""),
            "links": [_link_entry(link, falls) for link in path],
        }
        return answer
    steward = _kept_apart_by_steward(run, a, b, ga, gb)
    pair = _scored(run, a, b)
    if steward is not None:
        answer |= {
            "verdict": "steward",
            "reason": f"kept apart by a steward decision: {steward.describe()}",
        }
    elif pair is not None and pair[2] >= run.threshold:
        answer |= {
            "verdict": "guard",
            "reason": f"the model links them (p = {pair[2]:.3f} at or above the match threshold "
            f"{run.threshold:g}) but a clustering guard keeps their customers apart: "
            + _guard(run, ga, gb),
        }
    elif pair is not None:
        answer |= {
            "verdict": "below_threshold",
            "reason": f"compared and scored p = {pair[2]:.3f}, below the match threshold "
            f"{run.threshold:g}",
        }
    else:
        rules = blocking_check(run, a, b)
        pairing = [r for r in rules if r["pairs"]]
        if pairing:
            answer |= {
                "verdict": "not_kept",
                "reason": f"compared (blocking rule {pairing[0]['rule']}) but scored too low to be "
                "kept among the scored pairs",
            }
        else:
            answer |= {
                "verdict": "never_compared",
                "reason": f"never compared: none of the {len(rules)} blocking rules pairs them",
            }
        answer["blocking"] = rules
    if answer["verdict"] in ("below_threshold", "not_kept", "guard", "steward"):
        fall = waterfalls(run, [(a, b)]).get((a, b))
        answer["links"] = [
            {
                "left": a,
                "right": b,
                "match_probability": fall and fall["match_probability"],
                "steward": None,
                "waterfall": fall,
            }
        ]
        if fall:
            weighed = [s for s in fall["steps"] if abs(s["weight"]) >= 0.05]
            top = sorted(weighed, key=lambda s: -abs(s["weight"]))[:3]
            answer["weighed_most"] = [s["text"] for s in top]
    return answer


def _scored(run: PublishedRun, a: str, b: str) -> tuple[str, str, float] | None:
    found = run.pairs.filter(
        ((pl.col("unique_id_l") == a) & (pl.col("unique_id_r") == b))
        | ((pl.col("unique_id_l") == b) & (pl.col("unique_id_r") == a))
    )
    if found.is_empty():
        return None
    row = found.row(0, named=True)
    return row["unique_id_l"], row["unique_id_r"], float(row["match_probability"])


def _decisions_about(run: PublishedRun, keys: set[str]) -> list[Decision]:
    return [d for d in run.decisions.applied if d.keys() & keys]


def _kept_apart_by_steward(run: PublishedRun, a: str, b: str, ga: str, gb: str) -> Decision | None:
    """The applied decision that keeps the two customers apart, if one does."""
    side_a, side_b = set(run.members(ga)), set(run.members(gb))
    for d in reversed(run.decisions.applied):
        if d.kind == "lock" and (a in d.records) != (b in d.records):
            return d
        for one, other in d.apart():
            if (set(one) & side_a and set(other) & side_b) or (
                set(one) & side_b and set(other) & side_a
            ):
                return d
    return None


def _guard(run: PublishedRun, ga: str, gb: str) -> str:
    """Which guard the two customers together would break."""
    profiles = guard_profiles(run)
    found = joined_conflicts(
        profiles[ga], profiles[gb], int(run.guards.get("max_cluster_size") or 10**9)
    )
    return "; ".join(found) or (
        "a stronger link put them in different customers when the cluster was rebuilt"
    )


def guard_profiles(run: PublishedRun) -> dict[str, Profile]:
    """Each published customer as the clustering guards see it."""
    strong = tuple(
        g["field"] for g in run.guards.get("identifiers") or [] if g.get("splits_clusters")
    )
    singles = tuple(run.guards.get("one_record_per_customer") or ())
    records = run.records.join(run.xref.select("record_key", "golden_id"), on="record_key")
    return customer_profiles(records, strong, singles)


def blocking_check(run: PublishedRun, a: str, b: str) -> list[dict]:
    """Each blocking rule of the run's model, whether it pairs the two records and, if not,
    the compared columns that differ (names only: the values are personal)."""
    frame = run.match_records.filter(pl.col("unique_id").is_in([a, b]))
    rows = {r["unique_id"]: r for r in frame.iter_rows(named=True)}
    if a not in rows or b not in rows:
        raise ExplainError("the published match_records lack one of the records")
    out = []
    for rule in run.model.get("blocking_rules_to_generate_predictions") or []:
        text = rule.get("blocking_rule", "") if isinstance(rule, dict) else str(rule)
        equalities = _EQUALITY.findall(text)
        readable = " and ".join(sorted({left for left, _ in equalities})) or text
        if not equalities or not _GLUE.match(_EQUALITY.sub("", text)):
            out.append({"rule": text, "pairs": None, "why": "a rule explain cannot read"})
            continue
        capped = capped_rule_check(equalities, rows[a], rows[b])
        if capped is not None:
            out.append(capped)
            continue
        differs = [
            left
            for left, right in equalities
            if rows[a].get(left) is None
            or rows[b].get(right) is None
            or rows[a].get(left) != rows[b].get(right)
        ]
        missing = [c for c, _ in equalities if rows[a].get(c) is None or rows[b].get(c) is None]
        why = ""
        if missing:
            why = f"{', '.join(sorted(set(missing)))} missing"
        elif differs:
            why = f"{', '.join(sorted(set(differs)))} differ(s)"
        out.append({"rule": readable, "pairs": not differs, "why": why})
    return out


def capped_rule_check(equalities: list[tuple[str, str]], a: dict, b: dict) -> dict | None:
    """A rule kept for rare values only (whiteglove/linkage/blocking.py: its block key column
    holds the values of its columns where few records share them), in the words of its
    columns; None for any other rule."""
    if len(equalities) != 1 or not equalities[0][0].startswith(BLOCK_KEY_PREFIX):
        return None
    key = equalities[0][0]
    columns = key.removeprefix(BLOCK_KEY_PREFIX).split("__")
    rule = " and ".join(columns) + " (rare values only)"
    missing = sorted(c for c in columns if a.get(c) is None or b.get(c) is None)
    differs = sorted(c for c in columns if c not in missing and a.get(c) != b.get(c))
    if missing:
        return {"rule": rule, "pairs": False, "why": f"{', '.join(missing)} missing"}
    if differs:
        return {"rule": rule, "pairs": False, "why": f"{', '.join(differs)} differ(s)"}
    if a.get(key) is None or b.get(key) is None or a.get(key) != b.get(key):
        why = "the value is shared by too many records for this rule"
        return {"rule": rule, "pairs": False, "why": why}
    return {"rule": rule, "pairs": True, "why": ""}


def _change(run: PublishedRun, golden_id: str) -> dict | None:
    """How the customer changed since the previous publication, and why."""
    rows = run.changes.filter(pl.col("golden_id") == golden_id)
    if rows.is_empty():
        return None
    row = rows.row(0, named=True)
    change = {
        "change": str(row["change"]),
        "merged_into": row.get("merged_into"),
        "changed_fields": list(row.get("changed_fields") or []),
        "record_count": row.get("record_count"),
        "previous_record_count": row.get("previous_record_count"),
    }
    previous = run.previous_xref
    if previous is None:
        change["why"] = "no earlier publication is kept to compare with"
        return change
    before = set(previous.filter(pl.col("golden_id") == golden_id)["record_key"].to_list())
    now_id = row.get("merged_into") or golden_id
    now = set(run.members(now_id))
    known = set(previous["record_key"].to_list())
    arrived = sorted(now - known)
    gone = sorted(before - set(run.xref["record_key"].to_list()))
    moved = sorted(before - now - set(gone))
    joined = sorted((now - before) - set(arrived))
    reasons = []
    if change["change"] == "merged":
        reasons.append(f"merged into {now_id}")
    if arrived:
        reasons.append(f"record(s) {', '.join(arrived[:10])} arrived")
    if joined:
        reasons.append(f"record(s) {', '.join(joined[:10])} joined from other customers")
    if moved:
        reasons.append(f"record(s) {', '.join(moved[:10])} left for other customers")
    if gone:
        reasons.append(f"record(s) {', '.join(gone[:10])} are gone from the exports")
    steward = _decisions_about(run, before | now)
    if steward:
        reasons.append("steward decision(s): " + "; ".join(d.describe() for d in steward))
    elif joined or moved:
        reasons.append("the scores or the clustering guards changed which links hold")
    if change["changed_fields"]:
        reasons.append(f"changed fields: {', '.join(change['changed_fields'])}")
    change["why"] = "; ".join(reasons) or change["change"]
    return change


# ----------------------------------------------------------------------------------- text


def as_text(answer: dict) -> str:
    """An answer as a person reads it in a terminal."""
    lines = []
    if answer["kind"] == "golden":
        lines.append(f"golden customer {answer['golden_id']}: {len(answer['records'])} record(s)")
        if answer.get("change"):
            lines.append(f"  changed since the previous run: {answer['change']['why']}")
    else:
        ids = answer["golden_ids"]
        lines.append(" and ".join(f"{k} ({g})" for k, g in ids.items()))
        lines.append(f"  {answer['reason']}")
        if answer.get("weighed_most"):
            lines.append(f"  weighed most: {'; '.join(answer['weighed_most'])}")
        for rule in answer.get("blocking", []):
            verdict = "pairs them" if rule["pairs"] else f"does not pair them ({rule['why']})"
            lines.append(f"  blocking rule {rule['rule']}: {verdict}")
    lines.append("records:")
    for key, fields in answer["records"].items():
        shown = ", ".join(f"{f}={v}" for f, v in fields.items() if v not in (None, ""))
        lines.append(f"  {key}: {shown}")
    if answer.get("values"):
        lines.append("golden values (source, agreeing sources, age, runner-up):")
        lines += values_text(answer["values"])
    if answer.get("decisions"):
        lines.append("steward decisions:")
        lines += [f"  {d}" for d in answer["decisions"]]
    for link in answer.get("links", []):
        p = link["match_probability"]
        head = f"link {link['left']} - {link['right']}"
        if link.get("steward"):
            lines.append(f"{head}: forced by a steward decision: {link['steward']}")
            continue
        lines.append(f"{head}: p = {p}" if p is not None else head)
        fall = link.get("waterfall")
        if fall:
            lines.append(f"  {fall['prior_text']}")
            lines += [f"  {s['text']}" for s in fall["steps"]]
            lines.append(f"  = match weight {fall['match_weight']:+.1f}")
    return "\n".join(lines)


def compared(run: PublishedRun) -> dict[str, tuple]:
    """Each comparison's record fields (for side-by-side views)."""
    return compared_fields(run.model, run.records.columns)
