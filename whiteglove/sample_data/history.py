"""When each person changed email or moved, and update times that agree with it.

The exports draw which records show a person's outdated email or address independently of
when the records were last updated, which made an outdated value as likely to sit in last
week's record as in one from years ago: no survivorship rule could tell the current value
from history but by vote. Real systems hold an old value because nobody touched the record
since the change. So each person who shows an outdated value in CRM, billing or marketing
gets a day of change, and those records' update times are moved to agree with it: a record
showing the old value was last updated before the change, one showing the current value
after it. Support is left as it is: a ticket's time is when the customer got in touch, and
agents note whatever contact the ticket came from.

Only update times change, drawn from a stream of their own (`history_rng`), so every other
value of every export is what the main stream made, and linkage sees the same records.
"""

from __future__ import annotations

import numpy as np
from numpy.random import PCG64, Generator

from whiteglove.sample_data.people import TODAY, People

# The change happens at least this many days after the record could first exist and before
# the export; a day well inside the sources' time windows.
_MARGIN = 30


def history_rng(seed: int) -> Generator:
    """A stream independent of the main one: drawing from it leaves the exports unchanged."""
    return Generator(PCG64([seed, 0x5EED]))


def _email_text(value: object) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def consistent_times(
    rng: Generator,
    ppl: People,
    person: np.ndarray,
    email: list,
    old_address: np.ndarray,
    new_address: np.ndarray,
    day: np.ndarray,
    earliest: np.ndarray,
    email_change: np.ndarray,
    move: np.ndarray,
) -> np.ndarray:
    """Update days of one source's records (`day`), moved to agree with each person's changes.

    `person` is the person behind each record, `email` the email it shows, `old_address` /
    `new_address` whether it shows the person's previous / current address (or postcode),
    `earliest` the first day the record can have been updated. `email_change` and `move` are
    the people's change days (-1: no change seen). A record whose day already agrees keeps it.
    """
    n = len(person)
    shown = [_email_text(e) for e in email]
    old_email = np.array(
        [
            s is not None and s == ppl.old_email[p]
            for s, p in zip(shown, person.tolist(), strict=True)
        ],
        bool,
    )
    new_email = np.array(
        [s is not None and s == ppl.email[p] for s, p in zip(shown, person.tolist(), strict=True)],
        bool,
    )
    lo = earliest.astype(np.int64).copy()
    hi = np.full(n, TODAY + 1, np.int64)  # exclusive
    ce, cm = email_change[person], move[person]
    for before, after, change in ((old_email, new_email, ce), (old_address, new_address, cm)):
        seen = change >= 0
        new_hi = np.where(before & seen, np.minimum(hi, change), hi)
        new_lo = np.where(after & seen, np.maximum(lo, change), lo)
        # A record can show the old email and the new address the other way round from the
        # two days; the email (tested first) then decides, the address stays as drawn.
        possible = new_lo < new_hi
        lo, hi = np.where(possible, new_lo, lo), np.where(possible, new_hi, hi)
    fits = (day >= lo) & (day < hi)
    movable = ~fits & (lo < hi)
    out = day.copy()
    out[movable] = lo[movable] + (rng.random(int(movable.sum())) * (hi - lo)[movable]).astype(
        np.int64
    )
    return out


def change_days(
    rng: Generator, people: int, shows_old: np.ndarray, earliest: np.ndarray
) -> np.ndarray:
    """A day of change per person who shows an outdated value somewhere (-1 for the rest),
    after the earliest day any of their records showing it can date from."""
    lo = np.minimum(earliest + _MARGIN, TODAY - _MARGIN)
    drawn = lo + (rng.random(people) * np.maximum(TODAY - _MARGIN - lo, 1)).astype(np.int64)
    return np.where(shows_old, drawn, -1)


_EPOCH_DAY = np.datetime64("1970-01-01", "D")


def _postcode_shown(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value).zfill(5)


def _address_flags(
    ppl: People, person: list[int], address: list, postcode: list
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each record shows the previous or the current address (by the postcode where
    the two differ, else by the street as written, ignoring case and accents)."""
    old, new = [], []
    for p, a, pc in zip(person, address, postcode, strict=True):
        pc = _postcode_shown(pc)
        is_old = is_new = False
        if pc is not None and ppl.old_postcode[p] != ppl.postcode[p]:
            is_old, is_new = pc == ppl.old_postcode[p], pc == ppl.postcode[p]
        elif isinstance(a, str):
            key = _street(a)
            is_old, is_new = key == _street(ppl.old_addr[p]), key == _street(ppl.addr[p])
        old.append(is_old and not is_new)
        new.append(is_new and not is_old)
    return np.array(old, bool), np.array(new, bool)


def _street(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", text.lower())
    words = "".join(c if c.isalnum() else " " for c in folded if not unicodedata.combining(c))
    return " ".join(words.split()[1:])  # without the street type, written out or abbreviated


def make_consistent(
    seed: int,
    ppl: People,
    crm_rows: list,
    crm_truth: list,
    billing_table,
    billing_truth: list,
    marketing_lines: list[str],
    marketing_truth: list,
):
    """CRM rows, billing table and marketing lines with update times that agree with when
    each person changed email or moved; every other value as given."""
    import json

    import pyarrow as pa

    rng = history_rng(seed)
    n_people = len(ppl.email)
    # CRM: UltimaModificacion "dd/mm/YYYY HH:MM" at 11, never before FechaAlta at 10.
    crm_at = [
        i
        for i, r in enumerate(crm_rows)
        if len(r) > 11 and r[11] and r[10] and crm_truth[i][1] >= 0
    ]
    crm = {
        "person": np.array([crm_truth[i][1] for i in crm_at], np.int64),
        "email": [crm_rows[i][3] for i in crm_at],
        "address": [crm_rows[i][6] for i in crm_at],
        "postcode": [crm_rows[i][8] for i in crm_at],
        "stamp": [crm_rows[i][11] for i in crm_at],
        "earliest": np.array(
            [_days(f"{r[6:10]}-{r[3:5]}-{r[:2]}") for r in (crm_rows[i][10] for i in crm_at)],
            np.int64,
        ),
    }
    crm["seconds"] = np.array(
        [
            _days(f"{s[6:10]}-{s[3:5]}-{s[:2]}") * 86400 + int(s[11:13]) * 3600 + int(s[14:16]) * 60
            for s in crm["stamp"]
        ],
        np.int64,
    )
    billing = billing_table.to_pydict()
    bill = {
        "person": np.array([p for _, p in billing_truth], np.int64),
        "email": billing["email_facturacion"],
        "address": billing["direccion_facturacion"],
        "postcode": billing["codigo_postal"],
        "seconds": (
            billing_table.column("fecha_actualizacion").cast(pa.int64()).to_numpy() // 1_000_000
        ),
        "earliest": np.full(len(billing_truth), _days("2023-01-01"), np.int64),
    }
    mkt_records = [json.loads(line) for line in marketing_lines]
    mkt = {
        "person": np.array([p for _, p in marketing_truth], np.int64),
        "email": [r["email"] for r in mkt_records],
        "address": [None] * len(mkt_records),
        "postcode": [r["postal_code"] for r in mkt_records],
        "seconds": np.array(
            [
                (
                    np.datetime64(r["updated_at"], "s") - np.datetime64("1970-01-01T00:00:00", "s")
                ).astype(np.int64)
                for r in mkt_records
            ],
            np.int64,
        ),
        "earliest": np.full(len(mkt_records), _days("2022-01-01"), np.int64),
    }
    shows_old = {"email": np.zeros(n_people, bool), "address": np.zeros(n_people, bool)}
    earliest = {"email": np.zeros(n_people, np.int64), "address": np.zeros(n_people, np.int64)}
    for src in (crm, bill, mkt):
        src["old_address"], src["new_address"] = _address_flags(
            ppl, src["person"].tolist(), src["address"], src["postcode"]
        )
        src["old_email"] = np.array(
            [
                _email_text(e) == ppl.old_email[p]
                for e, p in zip(src["email"], src["person"].tolist(), strict=True)
            ],
            bool,
        )
        for kind in ("email", "address"):
            who = src["person"][src[f"old_{kind}"]]
            shows_old[kind][who] = True
            np.maximum.at(earliest[kind], who, src["earliest"][src[f"old_{kind}"]])
    email_change = change_days(rng, n_people, shows_old["email"], earliest["email"])
    move = change_days(rng, n_people, shows_old["address"], earliest["address"])
    for src in (crm, bill, mkt):
        day = src["seconds"] // 86400
        new_day = consistent_times(
            rng,
            ppl,
            src["person"],
            src["email"],
            src["old_address"],
            src["new_address"],
            day,
            src["earliest"],
            email_change,
            move,
        )
        src["seconds"] = new_day * 86400 + src["seconds"] % 86400

    crm_rows = list(crm_rows)
    for i, s in zip(crm_at, crm["seconds"].tolist(), strict=True):
        t = str(np.datetime64(s, "s"))
        row = list(crm_rows[i])
        row[11] = f"{t[8:10]}/{t[5:7]}/{t[:4]} {t[11:16]}"
        crm_rows[i] = tuple(row) if isinstance(crm_rows[i], tuple) else row
    index = billing_table.schema.get_field_index("fecha_actualizacion")
    billing_table = billing_table.set_column(
        index,
        billing_table.schema.field(index),
        pa.array((bill["seconds"] * 1_000_000).astype("datetime64[us]"), pa.timestamp("us")),
    )
    for r, s in zip(mkt_records, mkt["seconds"].tolist(), strict=True):
        r["updated_at"] = str(np.datetime64(s, "s"))
    marketing_lines = [json.dumps(r, ensure_ascii=False) for r in mkt_records]
    return crm_rows, billing_table, marketing_lines


def _days(iso: str) -> int:
    return int((np.datetime64(iso, "D") - _EPOCH_DAY).astype(np.int64))
