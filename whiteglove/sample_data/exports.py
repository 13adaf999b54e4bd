"""The four systems' exports: which people each holds, and how each records them."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from numpy.random import Generator

from whiteglove.sample_data import defects
from whiteglove.sample_data.people import ASCII, TODAY, People, day
from whiteglove.sample_data.tables import CITIES, NICKNAMES, PROVINCES, STREET_ABBR, SUBJECTS

CRM_COLUMNS = (
    "IdCliente",
    "Nombre",
    "Apellidos",
    "Email",
    "Teléfono",
    "FechaNacimiento",
    "Dirección",
    "Ciudad",
    "CP",
    "Provincia",
    "FechaAlta",
    "UltimaModificacion",
)
SUPPORT_COLUMNS = (
    "ticket_id",
    "customer_name",
    "contact_email",
    "contact_phone",
    "opened_at",
    "status",
    "channel",
    "subject",
)
MARKETING_KEYS = (
    "id",
    "name",
    "email",
    "mobile",
    "birth_date",
    "postal_code",
    "city",
    "segment",
    "consent_email",
    "updated_at",
)
BILLING_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("titular", pa.string()),
        ("email_facturacion", pa.string()),
        ("telefono", pa.string()),
        ("nif", pa.string()),
        ("direccion_facturacion", pa.string()),
        ("codigo_postal", pa.int64()),
        ("metodo_pago", pa.string()),
        ("importe_mensual", pa.float64()),
        ("fecha_actualizacion", pa.timestamp("us")),
    ]
)
TRUTH_COLUMNS = ("source", "source_record_id", "row_number", "person_id")
# truth_values.csv: each person's values as they are today and as they were before a change
# (the generator's "old" email and address), written the way whiteglove standardizes them, so
# golden values can be scored as current, outdated or wrong (whiteglove/evaluation.py).
TRUTH_VALUE_COLUMNS = (
    "person_id",
    "email",
    "old_email",
    "phone",
    "date_of_birth",
    "address_line",
    "old_address_line",
    "postcode",
    "old_postcode",
)

_SEGMENTS = ("premium", "familia", "joven", "senior", "estandar")
# P(segment | age band): <30, 30-49, 50-64, 65+
_SEGMENT_P = np.array(
    [
        [0.10, 0.00, 0.70, 0.00, 0.20],
        [0.15, 0.55, 0.00, 0.00, 0.30],
        [0.25, 0.25, 0.00, 0.00, 0.50],
        [0.10, 0.00, 0.00, 0.75, 0.15],
    ]
)


def truth_values(ppl: People) -> list[tuple]:
    """One row per person (TRUTH_VALUE_COLUMNS); reads the people, draws nothing."""
    return list(
        zip(
            range(len(ppl.email)),
            ppl.email,
            ppl.old_email,
            [f"+34{p}" for p in ppl.phone],
            _iso_days(ppl.dob),
            ppl.addr,
            ppl.old_addr,
            ppl.postcode,
            ppl.old_postcode,
            strict=True,
        )
    )


def _iso_days(days: np.ndarray) -> list[str]:
    return np.datetime_as_string(days.astype("datetime64[D]")).tolist()


def _iso_seconds(secs: np.ndarray) -> list[str]:
    return np.datetime_as_string(secs.astype("datetime64[s]"), unit="s").tolist()


def _random_seconds(
    rng: Generator, start_day: np.ndarray | int, end_day: np.ndarray | int, n: int
) -> np.ndarray:
    """Office-hours-ish timestamps (epoch seconds) uniformly between two days."""
    span = np.maximum(np.asarray(end_day) - np.asarray(start_day), 0)
    days = np.asarray(start_day) + (rng.random(n) * (span + 1)).astype(np.int64)
    sec = rng.integers(8 * 3600, 21 * 3600, n)
    return days.astype(np.int64) * 86400 + sec


def _pick(mask: np.ndarray, new: Sequence, old: Sequence) -> list:
    return [b if m else a for m, a, b in zip(mask.tolist(), old, new, strict=False)]


def _ids_with_gaps(rng: Generator, n: int, start: int) -> np.ndarray:
    # Deleted accounts leave holes in real id sequences.
    return start + np.cumsum(rng.integers(1, 4, n))


def crm(rng: Generator, ppl: People, members: np.ndarray) -> tuple[list, list]:
    """CRM rows (a few duplicated customers, a few damaged rows) and their (id, person) pairs."""
    n_mem = len(members)
    dup = members[rng.random(n_mem) < 0.04]
    pidx = np.concatenate([members, dup])
    is_dup = np.zeros(len(pidx), bool)
    is_dup[n_mem:] = True
    adult = ppl.dob[pidx] + int(18 * 365.25)
    signup_lo = np.maximum(adult, day("2005-01-01"))
    signup = signup_lo + (rng.random(len(pidx)) * np.maximum(day("2024-09-30") - signup_lo, 0))
    signup = np.minimum(signup.astype(np.int64), TODAY)
    order = np.argsort(signup, kind="stable")
    pidx, is_dup, signup = pidx[order], is_dup[order], signup[order]
    n = len(pidx)
    pl = pidx.tolist()

    # A duplicate row is only a duplicate if something differs; force one change.
    has_nick = np.array([ppl.first[p] in NICKNAMES for p in pidx.tolist()], bool)
    forced = rng.integers(0, 3, n)
    f_nick = is_dup & (forced == 0) & has_nick
    f_typo = is_dup & ((forced == 1) | ((forced == 0) & ~has_nick))
    f_old = is_dup & (forced == 2)
    # The original of a forced old-email duplicate must show the current address.
    keep_current = ~is_dup & np.isin(pidx, pidx[f_old])
    old_rate = np.where(f_old, 1.0, np.where(keep_current, 0.0, 0.06))
    first, sur1, sur2 = defects.vary_names(
        rng,
        ppl,
        pidx,
        nick=np.where(f_nick, 1.0, 0.04),
        trunc=0.03,
        typo=np.where(f_typo, 1.0, 0.04),
        miss2=0.04,
        extra=0.02,
    )
    surnames = [f"{a} {b}" if b else a for a, b in zip(sur1, sur2, strict=False)]
    strip = rng.random(n) < 0.06
    upper = rng.random(n) < 0.03
    first = [f.translate(ASCII) if s else f for f, s in zip(first, strip.tolist(), strict=False)]
    surnames = [
        a.translate(ASCII) if s else a for a, s in zip(surnames, strip.tolist(), strict=False)
    ]
    first = [f.upper() if u else f for f, u in zip(first, upper.tolist(), strict=False)]
    surnames = [a.upper() if u else a for a, u in zip(surnames, upper.tolist(), strict=False)]

    email = defects.emails(rng, ppl, pidx, old=old_rate, missing=0.05, case=0.05, spaces=0.04)
    phone = defects.phones(rng, ppl, pidx, (5, 5, 3, 1, 1, 1, 3, 1), missing=0.06)
    dob = [f"{s[8:10]}/{s[5:7]}/{s[:4]}" for s in _iso_days(ppl.dob[pidx])]
    dob = [None if m else d for d, m in zip(dob, (rng.random(n) < 0.05).tolist(), strict=False)]

    moved = rng.random(n) < 0.07
    addr = _pick(moved, [ppl.old_addr[p] for p in pl], [ppl.addr[p] for p in pl])
    cities = np.where(moved, ppl.old_city[pidx], ppl.city[pidx])
    pcs = _pick(moved, [ppl.old_postcode[p] for p in pl], [ppl.postcode[p] for p in pl])
    # Someone opened the export in a spreadsheet: "08001" became 8001.
    pcs = defects.strip_zero(pcs, rng.random(n) < 0.25)
    city_names = defects.city_names(rng, cities, 0.08)
    prov_alias = (rng.random(n) < 0.1).tolist()
    provinces = []
    for c, m in zip(cities.tolist(), prov_alias, strict=False):
        name, aliases = PROVINCES[CITIES[c][1]]
        provinces.append(aliases[0] if (m and aliases) else name)
    city_upper = (rng.random(n) < 0.04).tolist()
    city_names = [c.upper() if u else c for c, u in zip(city_names, city_upper, strict=False)]
    missing_addr = (rng.random(n) < 0.03).tolist()
    addr = [None if m else a for a, m in zip(addr, missing_addr, strict=False)]
    pcs = [None if m else p for p, m in zip(pcs, (rng.random(n) < 0.03).tolist(), strict=False)]

    alta = [f"{s[8:10]}/{s[5:7]}/{s[:4]}" for s in _iso_days(signup)]
    mod = _iso_seconds(_random_seconds(rng, signup, TODAY, n))
    mod = [f"{s[8:10]}/{s[5:7]}/{s[:4]} {s[11:16]}" for s in mod]
    ids = [f"C{i:06d}" for i in _ids_with_gaps(rng, n, 0).tolist()]

    rows: list = list(
        zip(
            ids,
            first,
            surnames,
            email,
            phone,
            dob,
            addr,
            city_names,
            pcs,
            provinces,
            alta,
            mod,
            strict=False,
        )
    )
    rec_ids: list = list(ids)
    _damage_crm(rng, rows, rec_ids, pidx, ppl)
    return rows, list(zip(rec_ids, pl, strict=False))


def _damage_crm(rng: Generator, rows: list, rec_ids: list, pidx: np.ndarray, ppl: People) -> None:
    """Corrupt ~0.3% of CRM rows, every kind at least once (needs >= 7 rows)."""
    n = len(rows)
    k = min(max(6, round(n * 0.003)), n - 1)
    if k < 6:
        return
    where = rng.choice(n, k, replace=False).tolist()
    kinds = list(range(6)) + rng.integers(0, 6, k - 6).tolist()
    cut = rng.integers(4, 10, k).tolist()
    damaged = set(where)
    # Reuse the id of an intact row so the collision is visible in the file.
    donors = [d for d in rng.integers(0, n, 4 * k + 8).tolist() if d not in damaged]
    for r, kind, c in zip(where, kinds, cut, strict=False):
        row = rows[r] = list(rows[r])
        if kind == 0:
            row[0] = ""
            rec_ids[r] = ""
        elif kind == 1:
            rows[r] = row[:c]
        elif kind == 2:
            row[3] = ppl.email[int(pidx[r])].split("@")[0] + "@"
        elif kind == 3:
            row[5] = "01/01/2099"
        elif kind == 4:
            rows[r] = [row[0]] + [None] * 9 + [row[10], None]
        else:
            row[0] = rows[donors.pop()][0] if donors else row[0]
            rec_ids[r] = row[0]


def billing(rng: Generator, ppl: People, members: np.ndarray) -> tuple[pa.Table, list]:
    """The billing table, one account per customer, and its (id, person) pairs."""
    pidx = members[rng.permutation(len(members))]
    n = len(pidx)
    pl = pidx.tolist()
    first, sur1, sur2 = defects.vary_names(
        rng, ppl, pidx, nick=0.02, trunc=0.04, typo=0.03, miss2=0.05, extra=0.02
    )
    title = (rng.random(n) < 0.15).tolist()
    titular = []
    for f, a, b, t in zip(first, sur1, sur2, title, strict=False):
        s = (f"{a} {b}, {f}" if b else f"{a}, {f}").translate(ASCII)
        titular.append(s if t else s.upper())
    email = defects.emails(rng, ppl, pidx, old=0.05, missing=0.06, case=0.06, spaces=0.03)
    phone = defects.phones(rng, ppl, pidx, (1, 9, 1, 4, 0, 2, 2, 1), missing=0.08)

    u = rng.random((n, 3))
    nif = []
    for p, (miss, low, dash) in zip(pidx.tolist(), u.tolist(), strict=False):
        d = ppl.dni[p]
        if miss < 0.08:
            nif.append(None)
            continue
        if low < 0.08:
            d = d[:8] + d[8].lower()
        if dash < 0.08:
            d = f"{d[:8]}-{d[8]}"
        nif.append(d)

    moved = rng.random(n) < 0.05
    addr = _pick(moved, [ppl.old_addr[p] for p in pl], [ppl.addr[p] for p in pl])
    pcs = _pick(moved, [ppl.old_postcode[p] for p in pl], [ppl.postcode[p] for p in pl])
    abbr = (rng.random(n) < 0.3).tolist()
    upper = (rng.random(n) < 0.35).tolist()
    out_addr: list[str | None] = []
    for a, ab, up in zip(addr, abbr, upper, strict=False):
        if ab:
            stype, rest = a.split(" ", 1)
            a = f"{STREET_ABBR[stype]} {rest}"
        out_addr.append(a.translate(ASCII).upper() if up else a)
    out_addr = [
        None if m else a for a, m in zip(out_addr, (rng.random(n) < 0.02).tolist(), strict=False)
    ]
    cp = [None if m else int(p) for p, m in zip(pcs, (rng.random(n) < 0.02).tolist(), strict=False)]

    method = rng.choice(4, n, p=[0.35, 0.45, 0.12, 0.08])
    methods = np.array(["tarjeta", "domiciliacion", "paypal", "transferencia"])[method]
    amount = np.round(np.exp(rng.normal(3.3, 0.5, n)), 2)
    updated = _random_seconds(rng, day("2023-01-01"), TODAY, n) * 1_000_000
    ids = [f"B-{i:07d}" for i in _ids_with_gaps(rng, n, 0).tolist()]
    table = pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array(titular, pa.string()),
            pa.array(email, pa.string()),
            pa.array(phone, pa.string()),
            pa.array(nif, pa.string()),
            pa.array(out_addr, pa.string()),
            pa.array(cp, pa.int64()),
            pa.array(methods.tolist(), pa.string()),
            pa.array(amount, pa.float64()),
            pa.array(updated.astype("datetime64[us]"), pa.timestamp("us")),
        ],
        schema=BILLING_SCHEMA,
    )
    return table, list(zip(ids, pidx.tolist(), strict=False))


def marketing(rng: Generator, ppl: People, members: np.ndarray) -> tuple[list[str], list]:
    """Marketing JSON lines (some people signed up twice) and their (id, person) pairs."""
    dup = members[rng.random(len(members)) < 0.02]
    pidx = np.concatenate([members, dup])
    is_dup = np.zeros(len(pidx), bool)
    is_dup[len(members) :] = True
    order = rng.permutation(len(pidx))
    pidx, is_dup = pidx[order], is_dup[order]
    n = len(pidx)
    pl = pidx.tolist()
    first, sur1, sur2 = defects.vary_names(
        rng,
        ppl,
        pidx,
        nick=np.where(is_dup, 0.4, 0.06),
        trunc=0.05,
        typo=np.where(is_dup, 0.3, 0.04),
        miss2=0.15,
        extra=0.01,
    )
    u = rng.random((n, 3)).tolist()
    names = []
    for f, a, b, (strip, low, up) in zip(first, sur1, sur2, u, strict=False):
        s = f"{f} {a} {b}" if b else f"{f} {a}"
        if strip < 0.1:
            s = s.translate(ASCII)
        if low < 0.03:
            s = s.lower()
        elif up < 0.02:
            s = s.upper()
        names.append(s)
    email = defects.emails(
        rng, ppl, pidx, old=np.where(is_dup, 0.7, 0.08), missing=0.01, case=0.06, spaces=0.04
    )
    mobile = defects.phones(rng, ppl, pidx, (7, 2, 1, 1, 2, 1, 1, 5), missing=0.15)
    bd = _iso_days(ppl.dob[pidx])
    bd = [None if m else d for d, m in zip(bd, (rng.random(n) < 0.3).tolist(), strict=False)]
    moved = rng.random(n) < 0.08
    pcs = _pick(moved, [ppl.old_postcode[p] for p in pl], [ppl.postcode[p] for p in pl])
    pcs = defects.strip_zero(pcs, rng.random(n) < 0.05)
    pcs = [None if m else p for p, m in zip(pcs, (rng.random(n) < 0.05).tolist(), strict=False)]
    cities = np.where(moved, ppl.old_city[pidx], ppl.city[pidx])
    city = defects.city_names(rng, cities, 0.1)
    city = [None if m else c for c, m in zip(city, (rng.random(n) < 0.05).tolist(), strict=False)]

    age = (TODAY - ppl.dob[pidx]) / 365.25
    band = np.digitize(age, [30, 50, 65])
    cum = np.cumsum(_SEGMENT_P[band], axis=1)
    seg = (rng.random(n)[:, None] > cum).sum(axis=1)
    segment = [_SEGMENTS[min(s, 4)] for s in seg.tolist()]
    consent = (rng.random(n) < 0.7).tolist()
    updated = _iso_seconds(_random_seconds(rng, day("2022-01-01"), TODAY, n))
    ids = _ids_with_gaps(rng, n, 100_000).tolist()
    lines = [
        json.dumps(dict(zip(MARKETING_KEYS, rec, strict=False)), ensure_ascii=False)
        for rec in zip(
            ids, names, email, mobile, bd, pcs, city, segment, consent, updated, strict=False
        )
    ]
    return lines, list(zip([str(i) for i in ids], pidx.tolist(), strict=False))


def support(rng: Generator, ppl: People, members: np.ndarray) -> tuple[list, list]:
    """Support tickets, oldest first, several for some people, and their (id, person) pairs."""
    tickets = np.minimum(rng.geometric(0.5, len(members)), 6)
    pidx = np.repeat(members, tickets)
    n = len(pidx)
    opened = _random_seconds(rng, day("2022-01-01"), TODAY, n)
    order = np.argsort(opened, kind="stable")
    pidx, opened = pidx[order], opened[order]

    first, sur1, sur2 = defects.vary_names(
        rng, ppl, pidx, nick=0.08, trunc=0.06, typo=0.06, miss2=0.0, extra=0.0
    )
    style = rng.choice(5, n, p=[0.3, 0.45, 0.12, 0.05, 0.08]).tolist()
    strip = (rng.random(n) < 0.15).tolist()
    names = []
    for f, a, b, s, st in zip(first, sur1, sur2, style, strip, strict=False):
        full = f"{f} {a} {b}" if b else f"{f} {a}"
        name = (full, f"{f} {a}", f"{f} {a}".lower(), f, full.upper())[s]
        names.append(name.translate(ASCII) if st else name)

    channel = rng.choice(3, n, p=[0.4, 0.35, 0.25])
    email_missing = np.array([0.5, 0.05, 0.15])[channel]
    phone_missing = np.array([0.05, 0.6, 0.7])[channel]
    email = defects.emails(rng, ppl, pidx, old=0.1, missing=email_missing, case=0.08, spaces=0.05)
    phone = defects.phones(rng, ppl, pidx, (3, 6, 4, 1, 2, 1, 2, 1), missing=phone_missing)

    recent = opened >= day("2024-11-15") * 86400
    st = np.where(
        recent, rng.choice(3, n, p=[0.45, 0.25, 0.3]), rng.choice(3, n, p=[0.03, 0.05, 0.92])
    )
    status = np.array(["open", "pending", "closed"])[st].tolist()
    channels = np.array(["phone", "email", "chat"])[channel].tolist()
    subject = [SUBJECTS[i] for i in rng.integers(0, len(SUBJECTS), n).tolist()]
    opened_s = [s.replace("T", " ") for s in _iso_seconds(opened)]
    ids = [f"T-{i:06d}" for i in range(1, n + 1)]
    rows = list(zip(ids, names, email, phone, opened_s, status, channels, subject, strict=False))
    return rows, list(zip(ids, pidx.tolist(), strict=False))
