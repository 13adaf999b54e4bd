"""How a system garbles a person's details: nicknames, typos, stale emails, phone formats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.random import Generator

from whiteglove.sample_data.people import People
from whiteglove.sample_data.tables import CITIES, NICKNAMES, SURNAME_P, SURNAMES

_LETTERS = "abcdefghijklmnopqrstuvwxyzñ"


def _typo(s: str, pos: float, kind: float, char: float) -> str:
    if len(s) < 3:
        return s
    # People rarely get the initial wrong, so keep index 0 intact.
    i = 1 + int(pos * (len(s) - 1))
    i = min(i, len(s) - 1)
    k = int(kind * 3)
    if k == 0:
        c = _LETTERS[int(char * len(_LETTERS))]
        if c == s[i].lower():
            c = "e" if c != "e" else "a"
        if s[i].isupper():
            c = c.upper()
        return s[:i] + c + s[i + 1 :]
    if k == 1 or i == len(s) - 1 or s[i] == s[i + 1]:
        return s[:i] + s[i + 1 :]
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def vary_names(
    rng: Generator,
    ppl: People,
    pidx: np.ndarray,
    *,
    nick: float | np.ndarray,
    trunc: float,
    typo: float | np.ndarray,
    miss2: float,
    extra: float,
) -> tuple[list[str], list[str], list[str]]:
    """Per-record first name and surnames after nickname/typo/surname defects."""
    n = len(pidx)
    u = rng.random((n, 5))
    m_nick = (u[:, 0] < nick).tolist()
    m_trunc = (u[:, 1] < trunc).tolist()
    m_typo = (u[:, 2] < typo).tolist()
    m_miss = (u[:, 3] < miss2).tolist()
    m_extra = (u[:, 4] < extra).tolist()
    aux = rng.random((n, 6)).tolist()
    extra_sn = rng.choice(len(SURNAMES), n, p=SURNAME_P).tolist()
    first, sur1, sur2 = ppl.first, ppl.sur1, ppl.sur2
    out_f, out_a, out_b = [], [], []
    for j, p in enumerate(pidx.tolist()):
        f, a, b = first[p], sur1[p], sur2[p]
        x = aux[j]
        if m_nick[j] and f in NICKNAMES:
            opts = NICKNAMES[f]
            f = opts[int(x[0] * len(opts))]
        elif m_trunc[j] and " " in f:
            f = f.split(" ", 1)[0]
        if m_miss[j]:
            b = ""
        elif m_extra[j]:
            if x[1] < 0.5:
                a, b = f"{a}-{b}", ""
            else:
                b = f"{b} {SURNAMES[extra_sn[j]]}"
        if m_typo[j]:
            if x[2] < 0.5:
                f = _typo(f, x[3], x[4], x[5])
            elif x[2] < 0.85 or not b:
                a = _typo(a, x[3], x[4], x[5])
            else:
                b = _typo(b, x[3], x[4], x[5])
        out_f.append(f)
        out_a.append(a)
        out_b.append(b)
    return out_f, out_a, out_b


def _case_email(e: str, k: int) -> str:
    local, _, dom = e.partition("@")
    if k == 0:
        return e.upper()
    if k == 1:
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + dom
    return f"{local}@{dom.capitalize()}"


def emails(
    rng: Generator,
    ppl: People,
    pidx: np.ndarray,
    *,
    old: float | np.ndarray,
    missing: float | np.ndarray,
    case: float,
    spaces: float,
) -> list[str | None]:
    """Per-record email: sometimes the old one, missing, re-cased or padded with spaces."""
    n = len(pidx)
    u = rng.random((n, 4))
    m_old = (u[:, 0] < old).tolist()
    m_miss = (u[:, 1] < missing).tolist()
    m_case = (u[:, 2] < case).tolist()
    m_space = (u[:, 3] < spaces).tolist()
    kind = rng.integers(0, 3, n).tolist()
    out: list[str | None] = []
    for j, p in enumerate(pidx.tolist()):
        if m_miss[j]:
            out.append(None)
            continue
        e = ppl.old_email[p] if m_old[j] else ppl.email[p]
        if m_case[j]:
            e = _case_email(e, kind[j])
        if m_space[j]:
            e = (f" {e}", f"{e} ", f" {e}  ")[kind[j]]
        out.append(e)
    return out


# How systems write a Spanish mobile number `d` (nine digits), by format number.
_PHONE_WRITINGS = (
    lambda d: f"+34 {d[:3]} {d[3:6]} {d[6:]}",
    lambda d: d,
    lambda d: f"{d[:3]} {d[3:5]} {d[5:7]} {d[7:]}",
    lambda d: f"0034{d}",
    lambda d: f"(+34) {d[:3]}-{d[3:6]}-{d[6:]}",
    lambda d: f"34 {d}",
    lambda d: f"{d[:3]} {d[3:6]} {d[6:]}",
    lambda d: f"+34{d}",
)


def phones(
    rng: Generator,
    ppl: People,
    pidx: np.ndarray,
    weights: Sequence[float],
    missing: float | np.ndarray,
) -> list[str | None]:
    """Per-record phone in one of the writings `weights` favours, or missing."""
    n = len(pidx)
    w = np.asarray(weights, float)
    fmt = rng.choice(len(_PHONE_WRITINGS), n, p=w / w.sum()).tolist()
    miss = (rng.random(n) < missing).tolist()
    phone = ppl.phone
    return [
        None if m else _PHONE_WRITINGS[k](phone[p])
        for p, k, m in zip(pidx.tolist(), fmt, miss, strict=False)
    ]


def strip_zero(pcs: Sequence[str | None], mask: np.ndarray) -> list[str | None]:
    """Postcodes that lost their leading zero where `mask` is set."""
    return [
        pc[1:] if (m and pc and pc[0] == "0") else pc
        for pc, m in zip(pcs, mask.tolist(), strict=False)
    ]


def city_names(rng: Generator, cities: np.ndarray, alias: float) -> list[str]:
    """City names, an `alias` share of them spelled the way another system does."""
    u = (rng.random(len(cities)) < alias).tolist()
    out = []
    for c, m in zip(cities.tolist(), u, strict=False):
        name, aliases = CITIES[c][0], CITIES[c][5]
        out.append(aliases[0] if (m and aliases) else name)
    return out
