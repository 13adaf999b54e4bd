"""Blocking: which records become candidate pairs, and what each rule would cost.

Rules come from the sources file (linkage.blocking) or are derived from the mapped fields.
Every rule's comparisons are counted before anything is scored: a configured rule that
would generate too many is refused, a derived one is left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from whiteglove.config import LinkageConfig
from whiteglove.linkage.errors import LinkageError
from whiteglove.linkage.model import MATCH_COLUMNS

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator

log = logging.getLogger(__name__)

# A derived blocking rule may generate this many comparisons per record (but at least a
# million in all): beyond that it costs more than it finds.
DERIVED_RULE_PER_RECORD = 10
DERIVED_RULE_FLOOR = 1_000_000
# A broad derived rule (one field alone) finds the pairs whose other fields are all garbled,
# at a cost that grows with the square of the data: it is kept only while it stays within
# the floor. On thousands of records it is what finds a misspelt name with a shifted birth
# date; on a million, where two records sharing a birth date are rarely one person, it is
# left out.
BROAD_RULES = (("first_name_key",), ("surname_key",), ("date_of_birth",), ("name_tokens",))
# A derived rule on names that would exceed its budget is kept for its rare values: the
# records of a block this small or smaller still become pairs. Its cost then grows with the
# data, not with its square; and the pairs it loses are those of names shared by more than
# about seven people, where a name says little about who is who. At three million records,
# first name + surname whole would cost 46M comparisons (the budget is 30M); its blocks of
# at most 20 cost 5M and hold 59k of the true pairs the other rules miss.
MAX_CAPPED_BLOCK = 20
# the column of a capped rule's key: this prefix, then its columns joined by "__"
BLOCK_KEY_PREFIX = "block_"


@dataclass(frozen=True)
class BlockingRule:
    """Records that agree on every one of `columns` become a candidate pair."""

    columns: tuple[str, ...]
    # only for the values held by at most this many records (None: every value)
    max_block: int | None = None

    @property
    def label(self) -> str:
        label = " & ".join(self.columns)
        return label if self.max_block is None else f"{label} (blocks of at most {self.max_block})"

    @property
    def key(self) -> str | None:
        """The column a capped rule blocks on (see with_block_keys); None for the others."""
        return None if self.max_block is None else BLOCK_KEY_PREFIX + "__".join(self.columns)


@dataclass(frozen=True)
class BlockingPlan:
    """The rules that generate this run's candidate pairs, and what they cost."""

    rules: list[BlockingRule]
    counts: dict[str, int]  # rule label: at most this many comparisons
    left_out: dict[str, int]  # derived rules too costly at this size, with their counts


def plan_blocking(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, present: set[str], config: LinkageConfig
) -> BlockingPlan:
    """The blocking rules for `frame`, counted, with the derived ones that cost too much left
    out; raises LinkageError where configured rules would generate too many comparisons."""
    rules = chosen_rules(config, present)
    counts = count_each(con, frame, rules)
    if config.blocking:
        refuse_exploding(counts, config.max_comparisons)
        return BlockingPlan(rules, counts, {})
    budget = rule_budget(config, frame.height)
    plan = within_budget(rules, counts, config, frame.height)
    left_out = [r for r in rules if r.label in plan.left_out]
    plan = with_capped(con, plan, left_out, budget)
    if not plan.rules:
        raise LinkageError(f"every derived blocking rule exceeds {budget:,} comparisons")
    return plan


def chosen_rules(config: LinkageConfig, present: set[str]) -> list[BlockingRule]:
    """The rules of linkage.blocking, or where it is empty the ones derived from the fields."""
    rules = (
        [BlockingRule(tuple(r)) for r in config.blocking]
        if config.blocking
        else default_blocking_rules(present, declared_identifiers(config))
    )
    known = [*MATCH_COLUMNS, *config.match_fields]
    unknown = sorted({c for r in rules for c in r.columns} - set(known))
    if unknown:
        raise LinkageError(f"blocking rules name unknown columns {unknown}; known: {known}")
    return rules


def declared_identifiers(config: LinkageConfig) -> tuple[str, ...]:
    """The declared match fields of kind identifier: each is a blocking rule of its own."""
    return tuple(n for n, f in config.match_fields.items() if f.kind == "identifier")


def default_blocking_rules(
    present: set[str], identifiers: tuple[str, ...] = ()
) -> list[BlockingRule]:
    """The rules derived from the `present` match columns and declared `identifiers`."""
    candidates = [
        *[(name,) for name in identifiers],
        ("email",),
        ("phone",),
        ("national_id",),
        ("email_user",),
        ("first_name_key", "surname_key"),
        ("first_name_key", "last_name_key"),
        ("first_name_key", "surname_key", "city_key"),
        ("surname_key", "date_of_birth"),
        ("first_name_key", "date_of_birth"),
        # A surname alone is shared by hundreds in one postcode (7M pairs at a million
        # records, 2 of 3 below 0.01); with the first initial (nicknames already mapped to
        # one name) the rule keeps 98% of the true pairs it alone found, for a sixth of the
        # comparisons. It loses first names that differ in their first letter.
        ("first_initial", "surname_key", "postcode"),
        ("date_of_birth", "city_key"),
        ("date_of_birth", "postcode"),
    ]
    if "first_initial" not in present:  # sources without first names keep the plain rule
        candidates.append(("surname_key", "postcode"))
    candidates += BROAD_RULES
    return [BlockingRule(c) for c in candidates if set(c) <= present]


def count_each(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, rules: list[BlockingRule]
) -> dict[str, int]:
    """Each rule's label and the comparisons it would generate on `frame`, logged."""
    con.register("match_input", frame.to_arrow())
    counts = {r.label: count_comparisons(con, "match_input", r) for r in rules}
    for label, n in counts.items():
        log.info("blocking rule %s: at most %d comparisons", label, n)
    return counts


def count_comparisons(con: duckdb.DuckDBPyConnection, table: str, rule: BlockingRule) -> int:
    """Upper bound of the pairs a rule generates (before de-duplication across rules)."""
    cols = ", ".join(_quote(c) for c in rule.columns)
    not_null = " and ".join(f"{_quote(c)} is not null" for c in rule.columns)
    capped = "" if rule.max_block is None else f" having count(*) <= {int(rule.max_block)}"
    rows = con.sql(
        f"select coalesce(sum(n * (n - 1) / 2), 0)::hugeint from "
        f"(select count(*) as n from {table} where {not_null} group by {cols}{capped})"
    ).fetchall()
    return int(rows[0][0])


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def refuse_exploding(counts: dict[str, int], limit: int) -> None:
    """Raise LinkageError when a configured rule would generate more than `limit` pairs."""
    exploding = {k: v for k, v in counts.items() if v > limit}
    if exploding:
        raise LinkageError(
            f"blocking rules would generate too many comparisons (limit {limit:,}): "
            + ", ".join(f"{k} = {v:,}" for k, v in exploding.items())
            + "; make them stricter in the linkage.blocking section of the sources file"
        )


def within_budget(
    rules: list[BlockingRule], counts: dict[str, int], config: LinkageConfig, records: int
) -> BlockingPlan:
    """The derived rules that fit this many `records`'s budget; the others are left out."""
    # Derived rules are a starting point, not the user's request: one that would explode
    # at this size (first name + first surname on a million Spanish records) is left out.
    budget = rule_budget(config, records)
    broad = {BlockingRule(c).label for c in BROAD_RULES}

    def limit(label: str) -> int:
        return min(budget, DERIVED_RULE_FLOOR) if label in broad else budget

    dropped = {k: v for k, v in counts.items() if v > limit(k)}
    rules = [r for r in rules if r.label not in dropped]
    counts = {k: v for k, v in counts.items() if k not in dropped}
    for label, n in dropped.items():
        log.warning("blocking rule %s left out: %d comparisons, limit %d", label, n, limit(label))
    return BlockingPlan(rules, counts, dropped)


def rule_budget(config: LinkageConfig, records: int) -> int:
    """The comparisons a derived rule may generate on this many records."""
    return min(config.max_comparisons, max(DERIVED_RULE_FLOOR, DERIVED_RULE_PER_RECORD * records))


def with_capped(
    con: duckdb.DuckDBPyConnection, plan: BlockingPlan, left_out: list[BlockingRule], budget: int
) -> BlockingPlan:
    """`plan` with each left-out rule but the broad ones brought back for its blocks of at
    most MAX_CAPPED_BLOCK records, where that fits `budget` (count_each registered the frame)."""
    rules, counts = list(plan.rules), dict(plan.counts)
    for rule in left_out:
        if rule.columns in BROAD_RULES:
            continue
        capped = BlockingRule(rule.columns, MAX_CAPPED_BLOCK)
        n = count_comparisons(con, "match_input", capped)
        if n <= budget:
            log.info("blocking rule %s: at most %d comparisons", capped.label, n)
            rules.append(capped)
            counts[capped.label] = n
    return BlockingPlan(rules, counts, plan.left_out)


def with_block_keys(frame: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
    """`frame` with a column per capped rule: its columns' values where every one is present
    and at most `max_block` records share them, else null (null never joins)."""
    keys = []
    for rule in rules:
        if rule.max_block is None:
            continue
        present = pl.all_horizontal([pl.col(c).is_not_null() for c in rule.columns])
        rare = pl.len().over(list(rule.columns)) <= rule.max_block
        joined = pl.concat_str([pl.col(c).cast(pl.String) for c in rule.columns], separator="\x1f")
        keys.append(pl.when(present & rare).then(joined).alias(rule.key))
    return frame.with_columns(keys) if keys else frame


def capped_rules(choices: dict) -> list[BlockingRule]:
    """The capped rules a run's linkage choices name (see linkage_choices)."""
    return [
        BlockingRule(tuple(r["columns"]), int(r["max_block"]))
        for r in choices.get("capped_blocking_rules", [])
    ]


def splink_rules(
    rules: list[BlockingRule], only_changed: bool = False
) -> list[BlockingRuleCreator]:
    """The rules as Splink's; `only_changed` narrows them to pairs with a record flagged
    `changed_record`."""
    from splink import block_on
    from splink.blocking_rule_library import And, CustomRule

    blocking = [block_on(r.key) if r.key else block_on(*r.columns) for r in rules]
    if only_changed:
        # only pairs with a new or changed record: the others keep the scores they were given.
        # Said as two rules whose conditions each hold on one side alone, so that the database
        # filters that side before joining: "l or r changed" joined every record with every
        # other first (7 s of a 1% delta at a million records).
        blocking = [
            And(b, CustomRule(side))
            for b in blocking
            for side in ("l.changed_record", "r.changed_record and not l.changed_record")
        ]
    return blocking
