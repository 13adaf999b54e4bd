"""Steward decisions that last: the decisions file, what of it applies, and its constraints.

A steward's decisions live in one CSV file in the sources folder (`linkage.decisions`, by
default `decisions.csv` beside the sources file), one decision a line, appended in the
order they were made, so it can be kept in version control, diffed and audited:

    time,author,decision,record_key_l,record_key_r,records,apart_from,golden_id,reason
    2026-11-30T10:02:11Z,ana,match,crm:C1,billing:B7,,,,same DNI on the phone
    2026-11-30T10:04:55Z,ana,lock,,,"[""crm:C2"", ""support:T9""]",,G1A2B,checked with the customer
    2026-11-30T10:06:01Z,ana,split,,,"[""support:T4""]","[""crm:C3"", ""marketing:M8""]",G77C1,
    2026-11-30T10:07:30Z,ana,merge,,,"[""crm:C5"", ""billing:B2"", ""crm:C6""]",,G3F4A,

- `match` / `no_match` (record_key_l, record_key_r): force or forbid the link of two records.
- `lock` (records): these records are one customer, and no other record joins them.
- `split` (records, apart_from): the records are taken out of the customer the others are
  in, and kept apart from them; the records split out stay together.
- `merge` (records): these records, once two customers, are one customer.

Decisions name records, never golden ids (`golden_id` only says which customer the steward
was looking at): record keys last across runs, retraining and new thresholds, golden ids
may not. The review queue, with its `decision` column filled (and `reviewer`, `note`), is a
valid decisions file too, holding pair decisions only.

Every run resolves the file against its records (`resolve`): a decision naming a record
that is gone no longer applies; of two decisions that contradict each other (a pair both
matched and kept apart, a match across a lock...), the later one applies. Both kinds are
reported with the entries concerned, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from whiteglove.atomic import write_text_atomically

DEFAULT_FILE = "decisions.csv"
PAIR_DECISIONS = ("match", "no_match")
CLUSTER_DECISIONS = ("lock", "split", "merge")
KINDS = (*PAIR_DECISIONS, *CLUSTER_DECISIONS)
COLUMNS = [
    "time",
    "author",
    "decision",
    "record_key_l",
    "record_key_r",
    "records",
    "apart_from",
    "golden_id",
    "reason",
]
# the review queue's names for the same things
_ALIASES = {"reviewer": "author", "note": "reason"}
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_CELL_CHARS = 100_000
_FORMULA_CHARS = "=+-@\t\r\n＝＋－＠"


class DecisionsError(ValueError):
    """A steward's decisions file cannot be used; the message names the file, line and problem."""


@dataclass(frozen=True)
class Decision:
    kind: str
    records: tuple[str, ...]  # pair: (left, right); lock, merge: members; split: split out
    apart_from: tuple[str, ...] = ()  # split: the records of the customer they leave
    golden_id: str = ""
    author: str = ""
    time: str = ""
    reason: str = ""
    line: int = 0  # in the decisions file (0: not read from a file)

    def keys(self) -> set[str]:
        return {*self.records, *self.apart_from}

    def together(self) -> list[tuple[str, str]]:
        """Links this decision forces: a chain through the records kept together."""
        if self.kind == "no_match":
            return []
        return list(zip(self.records, self.records[1:], strict=False))

    def apart(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """Groups of records this decision keeps in different customers."""
        if self.kind == "no_match":
            return [((self.records[0],), (self.records[1],))]
        if self.kind == "split":
            return [(self.records, self.apart_from)]
        return []

    def describe(self) -> str:
        """One line a person reads: what was decided, by whom, when and why."""
        first, n = self.records[0], len(self.records)
        last = self.records[-1]
        what = {
            "match": f"match {first} with {last}",
            "no_match": f"keep {first} apart from {last}",
            "lock": f"lock {n} record(s) as one customer",
            "split": f"split {', '.join(self.records)} out of their customer",
            "merge": f"merge {n} records into one customer",
        }[self.kind]
        if self.golden_id and self.kind in CLUSTER_DECISIONS:
            what += f" ({self.golden_id})"
        by = f" by {self.author or 'an unnamed steward'}" + (
            f" at {self.time}" if self.time else ""
        )
        because = f": {self.reason}" if self.reason else ""
        line = f" (line {self.line})" if self.line else ""
        return f"{what}{by}{because}{line}"

    def as_dict(self) -> dict:
        entry = asdict(self)
        entry["records"], entry["apart_from"] = list(self.records), list(self.apart_from)
        entry["text"] = self.describe()
        return entry

    @staticmethod
    def from_dict(entry: dict) -> Decision:
        return Decision(
            kind=entry["kind"],
            records=tuple(entry["records"]),
            apart_from=tuple(entry.get("apart_from") or ()),
            golden_id=entry.get("golden_id") or "",
            author=entry.get("author") or "",
            time=entry.get("time") or "",
            reason=entry.get("reason") or "",
            line=int(entry.get("line") or 0),
        )


# ------------------------------------------------------------------------------ the file


def decisions_file(sources_folder: Path, named: str | None) -> Path:
    """The decisions file of a sources file: the one `linkage.decisions` names, else
    `decisions.csv` beside it."""
    return Path(sources_folder) / (named or DEFAULT_FILE)


def read_decisions(path: Path) -> list[Decision]:
    """Every decision in the file, in file order (a missing file holds none).

    Lines starting with '#' before the header are notes (the review queue opens with one);
    rows without a decision are ignored (a review queue nobody finished); anything else that
    is not a decision this module can apply is refused with the line and the problem, so a
    typo never silently links or separates customers.
    """
    path = Path(path)
    if not path.exists():
        return []
    if not path.is_file():
        raise DecisionsError(f"decisions file {path}: not a regular file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DecisionsError(
            f"decisions file {path}: larger than {MAX_FILE_BYTES // 2**20} MB; refusing to read it"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DecisionsError(f"decisions file {path}: cannot read it: {exc}") from None
    lines = text.splitlines(keepends=True)
    skipped = 0
    while skipped < len(lines) and lines[skipped].lstrip("\ufeff'").startswith("#"):
        skipped += 1
    reader = csv.reader(io.StringIO("".join(lines[skipped:])), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DecisionsError(f"decisions file {path}, line {skipped + 1}: {exc}") from None
    if header is None:
        return []
    names = [_ALIASES.get(n, n) for n in (_plain(h).strip() for h in header)]
    if "decision" not in names:
        raise DecisionsError(
            f"decisions file {path}, line {skipped + 1}: no 'decision' column in the header"
        )
    found = []
    read = reader.line_num  # physical lines read so far, after the notes
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DecisionsError(
                f"decisions file {path}, line {skipped + reader.line_num}: {exc}"
            ) from None
        line, read = skipped + read + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise DecisionsError(
                f"decisions file {path}, line {line}: {len(row)} cells where the header has "
                f"{len(names)}"
            )
        cells = {n: _plain(c).strip() for n, c in zip(names, row, strict=True)}
        decision = _decision(cells, line, path)
        if decision is not None:
            found.append(decision)
    return found


def _plain(cell: str) -> str:
    """A cell as the steward meant it: without the apostrophe that neutralized a formula."""
    if len(cell) > MAX_CELL_CHARS:
        cell = cell[:MAX_CELL_CHARS]
    return cell[1:] if cell.startswith("'") and cell[1:2] and cell[1] in _FORMULA_CHARS else cell


def _decision(cells: dict[str, str], line: int, path: Path) -> Decision | None:
    kind = cells.get("decision", "").lower().lstrip("'")
    if not kind:
        return None

    def refuse(problem: str) -> DecisionsError:
        return DecisionsError(f"decisions file {path}, line {line}: {problem}")

    if kind not in KINDS:
        raise refuse(f"decision {kind!r} is not one of {', '.join(KINDS)}")
    time = cells.get("time", "")
    if time:
        try:
            datetime.fromisoformat(time.replace("Z", "+00:00"))
        except ValueError:
            raise refuse(f"time {time!r} is not an ISO 8601 date and time") from None
    common = {
        "golden_id": cells.get("golden_id", ""),
        "author": cells.get("author", ""),
        "time": time,
        "reason": cells.get("reason", ""),
        "line": line,
    }
    if kind in PAIR_DECISIONS:
        left, right = cells.get("record_key_l", ""), cells.get("record_key_r", "")
        if not left or not right:
            raise refuse(f"a {kind} decision needs record_key_l and record_key_r")
        if left == right:
            raise refuse(f"a {kind} decision names the same record twice ({left})")
        return Decision(kind, (left, right), **common)
    records = _keys(cells.get("records", ""), "records", refuse)
    apart = _keys(cells.get("apart_from", ""), "apart_from", refuse)
    if kind == "split":
        if not records or not apart:
            raise refuse("a split needs the records split out (records) and the rest (apart_from)")
        if set(records) & set(apart):
            raise refuse("a split names a record both in records and in apart_from")
    elif len(records) < 2 and kind == "merge":
        raise refuse("a merge needs at least two records")
    elif not records:
        raise refuse("a lock needs the records of the customer (records)")
    return Decision(kind, records, apart, **common)


def _keys(cell: str, column: str, refuse) -> tuple[str, ...]:
    if not cell:
        return ()
    try:
        keys = json.loads(cell)
    except json.JSONDecodeError:
        keys = None
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise refuse(f'{column} must be a JSON list of record keys, like ["crm:C1", "support:T2"]')
    return tuple(dict.fromkeys(keys))


_WRITE_LOCK = threading.Lock()


def append_decision(path: Path, decision: Decision) -> Decision:
    """Add `decision` at the end of the decisions file, atomically: a reader (or a run)
    sees the file before or after, never half of it. Returns it with its time and line.

    Refuses a file in another layout (a review queue): appending would misalign it.
    """
    path = Path(path)
    stamped = decision
    if not decision.time:
        stamped = Decision(**{**asdict(decision), "time": now_text()})
    with _WRITE_LOCK:
        existing = path.read_text(encoding="utf-8-sig") if path.exists() else ""
        if existing and not existing.startswith(",".join(COLUMNS)):
            raise DecisionsError(
                f"decisions file {path}: not in the layout the review page writes (header "
                f"{','.join(COLUMNS)}); name a new file in linkage.decisions"
            )
        if existing and not existing.endswith("\n"):
            existing += "\n"
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not existing:
            writer.writerow(COLUMNS)
        writer.writerow(_row(stamped))
        write_text_atomically(path, existing + buffer.getvalue())
        line = (existing + buffer.getvalue()).count("\n")
    return Decision(**{**asdict(stamped), "line": line})


def _row(d: Decision) -> list[str]:
    pair = d.kind in PAIR_DECISIONS
    return [
        d.time,
        _safe(d.author),
        d.kind,
        d.records[0] if pair else "",
        d.records[1] if pair else "",
        "" if pair else json.dumps(list(d.records), ensure_ascii=False),
        json.dumps(list(d.apart_from), ensure_ascii=False) if d.apart_from else "",
        _safe(d.golden_id),
        _safe(d.reason.replace("\r", " ").replace("\n", " ")),
    ]


def _safe(text: str) -> str:
    # stewards open the file in spreadsheets too (whiteglove/safe_csv.py says why)
    return "'" + text if text and text[0] in _FORMULA_CHARS else text


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- resolution


@dataclass
class Resolved:
    """What of a decisions file applies to a run's records, and what does not, and why."""

    file: str
    applied: list[Decision] = field(default_factory=list)
    # each: decision, why, conflicts_with (the later decisions it contradicts; [] when gone)
    not_applied: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "entries": len(self.applied) + len(self.not_applied),
            "applied": [d.as_dict() for d in self.applied],
            "not_applied": self.not_applied,
        }

    @staticmethod
    def from_dict(value: dict | None) -> Resolved:
        value = value or {}
        return Resolved(
            file=value.get("file", ""),
            applied=[Decision.from_dict(d) for d in value.get("applied", [])],
            not_applied=list(value.get("not_applied", [])),
        )


def resolve(decisions: Sequence[Decision], record_keys: Iterable[str], file: str = "") -> Resolved:
    """The decisions that apply to a run of these records.

    A decision naming a record the run does not hold no longer applies. The others are taken
    from the latest back; one that contradicts those already taken is not applied, and is
    reported with the later decision it contradicts.
    """
    present = set(record_keys)
    result = Resolved(file)
    live = []
    for d in decisions:
        gone = sorted(d.keys() - present)
        if gone:
            result.not_applied.append(
                {
                    "decision": d.as_dict(),
                    "why": f"no longer applies: record(s) {', '.join(gone[:10])} gone",
                    "conflicts_with": [],
                }
            )
        else:
            live.append(d)
    taken: list[Decision] = []
    for d in reversed(live):
        if consistent([*taken, d]):
            taken.append(d)
            continue
        others = _contradicted(taken, d)
        result.not_applied.append(
            {
                "decision": d.as_dict(),
                "why": "contradicts later decision(s): " + "; ".join(o.describe() for o in others),
                "conflicts_with": [o.as_dict() for o in others],
            }
        )
    result.applied = sorted(taken, key=lambda d: d.line)
    result.not_applied.sort(key=lambda e: e["decision"]["line"])
    return result


def _contradicted(taken: list[Decision], decision: Decision) -> list[Decision]:
    """The fewest of `taken` that, with `decision`, cannot all hold (latest first)."""
    k = next(k for k in range(len(taken)) if not consistent([*taken[: k + 1], decision]))
    needed = taken[: k + 1]
    for other in list(needed[:-1]):
        fewer = [t for t in needed if t is not other]
        if not consistent([*fewer, decision]):
            needed = fewer
    return sorted(needed, key=lambda t: -t.line)


def consistent(decisions: Sequence[Decision]) -> bool:
    """Whether all of these can hold at once: no two records both kept together and apart,
    and no lock's customer holding a record outside the lock."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for d in decisions:
        for a, b in d.together():
            parent[find(a)] = find(b)
    for d in decisions:
        for side, other in d.apart():
            roots = {find(x) for x in side}
            if any(find(y) in roots for y in other):
                return False
        if d.kind == "lock":
            root = find(d.records[0])
            members = set(d.records)
            if any(find(x) == root and x not in members for x in list(parent)):
                return False
    return True


# --------------------------------------------------------------------------- constraints


@dataclass
class Constraints:
    """What clustering does with the decisions that apply."""

    forced: pl.DataFrame  # record_key_l, record_key_r: links always taken
    forbidden: pl.DataFrame  # record_key_l, record_key_r: links never taken
    locked: pl.DataFrame  # record_key, lock: no link from a lock's records leaves it
    apart: pl.DataFrame  # record_key, token, side: two sides of one token never share a customer


def constraints(decisions: Sequence[Decision]) -> Constraints:
    pair = {"record_key_l": pl.String, "record_key_r": pl.String}
    forced = [p for d in decisions for p in d.together()]
    forbidden = [d.records for d in decisions if d.kind == "no_match"]
    locked = [(k, i) for i, d in enumerate(decisions) if d.kind == "lock" for k in d.records]
    apart = [
        (k, i * 1000 + j, s)
        for i, d in enumerate(decisions)
        for j, sides in enumerate(d.apart())
        for s, keys in enumerate(sides)
        for k in keys
    ]
    return Constraints(
        forced=pl.DataFrame(forced, schema=pair, orient="row"),
        forbidden=pl.DataFrame(forbidden, schema=pair, orient="row"),
        locked=pl.DataFrame(
            locked, schema={"record_key": pl.String, "lock": pl.Int64}, orient="row"
        ),
        apart=pl.DataFrame(
            apart,
            schema={"record_key": pl.String, "token": pl.Int64, "side": pl.Int8},
            orient="row",
        ),
    )


def pair_frame_decisions(frame: pl.DataFrame) -> list[Decision]:
    """Pair decisions given as a frame (record_key_l, record_key_r, decision)."""
    return [
        Decision(kind, (left, right))
        for left, right, kind in frame.select("record_key_l", "record_key_r", "decision").rows()
    ]
