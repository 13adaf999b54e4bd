"""The synthetic customers themselves: one clean record per person, before any system sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.random import Generator

from whiteglove.sample_data.tables import (
    CITIES,
    CITY_P,
    COMPANIES,
    COMPANY_DOMAIN,
    DOMAIN_P,
    DOMAINS,
    FEMALE_NAMES,
    FEMALE_P,
    MALE_NAMES,
    MALE_P,
    OLD_DOMAIN_P,
    OLD_DOMAINS,
    STREET_TYPE_P,
    STREET_TYPES,
    STREETS,
    SURNAME_P,
    SURNAMES,
)
from whiteglove.schema import DNI_LETTERS

ASCII = str.maketrans("áéíóúàèìòùäëïöüÁÉÍÓÚÀÈÌÒÙÄËÏÖÜñÑçÇ", "aeiouaeiouaeiouAEIOUAEIOUAEIOUnNcC")

_EPOCH = np.datetime64("1970-01-01", "D")


def day(iso: str) -> int:
    """Days since the epoch of an ISO date."""
    return int((np.datetime64(iso, "D") - _EPOCH).astype(int))


TODAY = day("2024-12-31")


@dataclass
class People:
    first: list[str]
    sur1: list[str]
    sur2: list[str]
    email: list[str]
    old_email: list[str]
    phone: list[str]
    dob: np.ndarray  # days since epoch
    dni: list[str]
    addr: list[str]
    city: np.ndarray
    postcode: list[str]
    old_addr: list[str]
    old_city: np.ndarray
    old_postcode: list[str]


def _unique_ints(rng: Generator, n: int, lo: int, hi: int) -> np.ndarray:
    # Shared phones/DNIs between different people would be unintended strong links.
    vals = rng.integers(lo, hi, n)
    while True:
        _, first_idx = np.unique(vals, return_index=True)
        dup = np.ones(n, bool)
        dup[first_idx] = False
        if not dup.any():
            return vals
        vals[dup] = rng.integers(lo, hi, int(dup.sum()))


def _ascii_token(s: str) -> str:
    return s.translate(ASCII).lower().replace(" ", "").replace("'", "").replace("-", "")


# Email user names people pick, by template number: first name f, surnames a and b, a
# number k, birth year y.
_LOCAL_PARTS = (
    lambda f, a, b, k, y: f"{f}.{a}",
    lambda f, a, b, k, y: f"{f}.{a}{k}",
    lambda f, a, b, k, y: f"{f[0]}{a}{k}",
    lambda f, a, b, k, y: f"{f}{a}{y % 100:02d}",
    lambda f, a, b, k, y: f"{f}.{a}.{b}",
    lambda f, a, b, k, y: f"{f}_{a}{k}",
    lambda f, a, b, k, y: f"{a}.{f}{k}",
    lambda f, a, b, k, y: f"{f}{a[0]}{b[:1]}{y}",
)


def _make_emails(
    rng: Generator,
    first: list[str],
    sur1: list[str],
    sur2: list[str],
    year: np.ndarray,
    domains: Sequence[str],
    domain_p: Sequence[float],
    taken: dict[str, int],
) -> list[str]:
    n = len(first)
    tmpl = rng.integers(0, len(_LOCAL_PARTS), n).tolist()
    num = rng.integers(1, 100, n).tolist()
    dom = rng.choice(len(domains), n, p=domain_p).tolist()
    comp = rng.integers(0, len(COMPANIES), n).tolist()
    years = year.tolist()
    # Names come from a small vocabulary, so tokenise each spelling once.
    tok = {s: _ascii_token(s) for s in {*first, *sur1, *sur2}}
    out = []
    for i in range(n):
        f, a, b = tok[first[i]], tok[sur1[i]], tok[sur2[i]]
        d = domains[dom[i]]
        if d == COMPANY_DOMAIN:
            d = COMPANIES[comp[i]]
            local = f"{f}.{a}" if tmpl[i] < 5 else f"{f[0]}{a}"
        else:
            local = _LOCAL_PARTS[tmpl[i]](f, a, b, num[i], years[i])
        email = f"{local}@{d}"
        # Counter per base address keeps uniquifying linear even for "mgarcia@gmail.com".
        if email in taken:
            k = taken[email]
            while f"{local}{k}@{d}" in taken:
                k += 1
            taken[email] = k + 1
            email = f"{local}{k}@{d}"
        taken[email] = 2
        out.append(email)
    return out


def _make_addresses(rng: Generator, city: np.ndarray) -> tuple[list[str], list[str]]:
    n = len(city)
    stype = rng.choice(len(STREET_TYPES), n, p=STREET_TYPE_P).tolist()
    street = rng.integers(0, len(STREETS), n).tolist()
    number = np.minimum(rng.geometric(0.04, n), 250).tolist()
    has_piso = (rng.random(n) < 0.6).tolist()
    floor = rng.integers(1, 10, n).tolist()
    door = rng.integers(0, 7, n).tolist()
    doors = ("A", "B", "C", "D", "izda.", "dcha.", "A")
    addr = []
    for i in range(n):
        a = f"{STREET_TYPES[stype[i]]} {STREETS[street[i]]}, {number[i]}"
        if has_piso[i]:
            a += f", {floor[i]}º {doors[door[i]]}"
        addr.append(a)
    lo = np.array([c[2] for c in CITIES])[city]
    hi = np.array([c[3] for c in CITIES])[city]
    suffix = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    codes = [CITIES[c][1] for c in city.tolist()]
    postcode = [f"{p}{s:03d}" for p, s in zip(codes, suffix.tolist(), strict=False)]
    return addr, postcode


def build_people(rng: Generator, n: int) -> People:
    """`n` people with names, contact details, a DNI and a current and a previous address."""
    male = rng.random(n) < 0.49
    mi = rng.choice(len(MALE_NAMES), n, p=MALE_P).tolist()
    fi = rng.choice(len(FEMALE_NAMES), n, p=FEMALE_P).tolist()
    first = [
        MALE_NAMES[m] if s else FEMALE_NAMES[f]
        for s, m, f in zip(male.tolist(), mi, fi, strict=False)
    ]
    s1 = rng.choice(len(SURNAMES), n, p=SURNAME_P)
    s2 = rng.choice(len(SURNAMES), n, p=SURNAME_P)
    city = rng.choice(len(CITIES), n, p=CITY_P)
    # Explicit namesakes (~1%): same full name and city, everything else independent.
    k = round(n * 0.01) if n >= 20 else 0
    if k:
        targets = rng.choice(n, k, replace=False)
        pool = np.setdiff1d(np.arange(n), targets)
        models = pool[rng.integers(0, len(pool), k)]
        for t, m in zip(targets.tolist(), models.tolist(), strict=False):
            first[t] = first[m]
            city[t] = city[m]
        s1[targets], s2[targets] = s1[models], s2[models]
    sur1 = [SURNAMES[i] for i in s1.tolist()]
    sur2 = [SURNAMES[i] for i in s2.tolist()]

    # Customers skew middle-aged; the uniform part keeps the whole 1935-2006 range covered.
    lo, hi = day("1935-01-01"), day("2006-12-31")
    dob = np.where(
        rng.random(n) < 0.85, rng.normal(day("1975-06-01"), 14 * 365.25, n), rng.uniform(lo, hi, n)
    )
    # Redraw rather than clip: clipping would pile people onto two birthdays.
    outside = (dob < lo) | (dob > hi)
    dob[outside] = rng.uniform(lo, hi, int(outside.sum()))
    dob = dob.astype(np.int64)
    year = dob.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970

    taken: dict[str, int] = {}
    email = _make_emails(rng, first, sur1, sur2, year, DOMAINS, DOMAIN_P, taken)
    old_email = _make_emails(rng, first, sur1, sur2, year, OLD_DOMAINS, OLD_DOMAIN_P, taken)

    kind = rng.random(n)
    mobile6 = _unique_ints(rng, n, 600_000_000, 700_000_000)
    mobile7 = _unique_ints(rng, n, 710_000_000, 750_000_000)
    land = _unique_ints(rng, n, 910_000_000, 989_999_999)
    phone_num = np.where(kind < 0.85, mobile6, np.where(kind < 0.9, mobile7, land))
    phone = [str(p) for p in phone_num.tolist()]

    dni_num = _unique_ints(rng, n, 1_000_000, 80_000_000)
    dni = [f"{d:08d}{DNI_LETTERS[d % 23]}" for d in dni_num.tolist()]

    addr, postcode = _make_addresses(rng, city)
    # Half of movers stay in town; the rest came from anywhere.
    old_city = np.where(rng.random(n) < 0.5, city, rng.choice(len(CITIES), n, p=CITY_P))
    old_addr, old_postcode = _make_addresses(rng, old_city)
    return People(
        first,
        sur1,
        sur2,
        email,
        old_email,
        phone,
        dob,
        dni,
        addr,
        city,
        postcode,
        old_addr,
        old_city,
        old_postcode,
    )


def presence(rng: Generator, n: int) -> np.ndarray:
    """Which of the four systems (columns) knows each person (rows); everyone is in one."""
    p = np.array([0.8, 0.6, 0.5, 0.4])
    pres = rng.random((n, 4)) < p
    none = ~pres.any(axis=1)
    while none.any():
        pres[none] = rng.random((int(none.sum()), 4)) < p
        none = ~pres.any(axis=1)
    # Independent draws leave ~17.5% of people in a single system; linking a fifth of those
    # to one more (random, possibly the same) system brings that to the intended ~15%.
    widen = (pres.sum(axis=1) == 1) & (rng.random(n) < 0.2)
    pres[np.flatnonzero(widen), rng.integers(0, 4, n)[widen]] = True
    return pres
