"""The sample generator is deterministic, fully traced by truth.csv, and actually dirty."""

import csv
import json
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from numpy.random import PCG64, Generator

from whiteglove.config import load_sources
from whiteglove.layout import BUNDLED_SOURCES, PROJECT_ROOT
from whiteglove.sample_data import (
    CITIES,
    CRM_COLUMNS,
    DNI_LETTERS,
    FEMALE_NAMES,
    MALE_NAMES,
    MARKETING_KEYS,
    NICKNAMES,
    PROVINCES,
    SUPPORT_COLUMNS,
    _build_people,
    generate,
    main,
)

FILES = (
    "exports/crm.csv",
    "exports/billing.parquet",
    "exports/marketing.jsonl",
    "exports/support.csv",
    "truth.csv",
    "truth_values.csv",
)
PHONE_FORMATS = {
    "+34 612 345 678": r"\+34 \d{3} \d{3} \d{3}",
    "612345678": r"\d{9}",
    "612 34 56 78": r"\d{3} \d{2} \d{2} \d{2}",
    "0034612345678": r"0034\d{9}",
    "(+34) 612-345-678": r"\(\+34\) \d{3}-\d{3}-\d{3}",
    "34 612345678": r"34 \d{9}",
}


class Sample:
    """One generated sample, read back the way a consumer would."""

    def __init__(self, out: Path, people: int):
        self.out, self.people = out, people
        self.summary = generate(out, people=people, seed=11)
        with (out / "exports/crm.csv").open(encoding="utf-8", newline="") as fh:
            self.crm_header, *self.crm = list(csv.reader(fh, delimiter=";"))
        self.billing = pl.read_parquet(out / "exports/billing.parquet")
        lines = (out / "exports/marketing.jsonl").read_text(encoding="utf-8").splitlines()
        self.marketing = [json.loads(line) for line in lines]
        with (out / "exports/support.csv").open(encoding="utf-8", newline="") as fh:
            self.support_header, *self.support = list(csv.reader(fh))
        with (out / "truth.csv").open(encoding="utf-8", newline="") as fh:
            self.truth = list(csv.DictReader(fh))

    def truth_for(self, source: str) -> dict[int, dict]:
        return {int(t["row_number"]): t for t in self.truth if t["source"] == source}

    def persons_with(self, source: str) -> Counter:
        return Counter(int(t["person_id"]) for t in self.truth if t["source"] == source)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Sample:
    return Sample(tmp_path_factory.mktemp("sample"), people=800)


def strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


def all_phones(s: Sample) -> list[str]:
    phones = [r[4] for r in s.crm if len(r) > 4 and r[4]]
    phones += s.billing["telefono"].drop_nulls().to_list()
    phones += [m["mobile"] for m in s.marketing if m["mobile"]]
    phones += [r[3] for r in s.support if r[3]]
    return phones


def all_emails(s: Sample) -> list[str]:
    emails = [r[3] for r in s.crm if len(r) > 3 and r[3]]
    emails += s.billing["email_facturacion"].drop_nulls().to_list()
    emails += [m["email"] for m in s.marketing if m["email"]]
    emails += [r[2] for r in s.support if r[2]]
    return emails


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes(tmp_path):
    generate(tmp_path / "a", people=300, seed=5)
    generate(tmp_path / "b", people=300, seed=5)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seed_gives_different_data(tmp_path):
    generate(tmp_path / "a", people=300, seed=5)
    generate(tmp_path / "b", people=300, seed=6)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes(), name


def test_summary_matches_files(sample):
    s = sample.summary
    assert s.people == 800
    assert s.records == {
        "crm": len(sample.crm),
        "billing": sample.billing.height,
        "marketing": len(sample.marketing),
        "support": len(sample.support),
    }
    assert all(p.exists() for p in s.exports.values()) and s.truth.exists()
    # Roughly the documented presence rates (0.8 / 0.6 / 0.5 / 0.4 of people).
    assert 0.7 * 800 < len(sample.persons_with("crm")) < 0.95 * 800
    assert 0.3 * 800 < len(sample.persons_with("support")) < 0.55 * 800


def test_cli_writes_a_sample(tmp_path, capsys):
    assert main(["--people", "40", "--seed", "3", "--out", str(tmp_path / "cli")]) == 0
    for name in FILES:
        assert (tmp_path / "cli" / name).stat().st_size > 0
    config = yaml.safe_load((tmp_path / "cli" / "sources.yaml").read_text(encoding="utf-8"))
    assert [src["name"] for src in config["sources"]] == ["crm", "billing", "marketing", "support"]
    assert "40 people" in capsys.readouterr().out


def test_module_command_in_the_bundled_sources_file_runs(tmp_path):
    out = tmp_path / "module"
    command = [sys.executable, "-m", "whiteglove.sample_data", "--people", "20", "--out", str(out)]
    subprocess.run(command, check=True, cwd=PROJECT_ROOT, capture_output=True)
    assert all((out / name).is_file() for name in (*FILES, "sources.yaml"))


# --------------------------------------------------------------------------- sources file
def test_generated_sources_file_maps_the_exports_with_the_bundled_suites(tmp_path):
    summary = generate(tmp_path / "fresh", people=40, seed=3)
    # load_sources checks that every export and the suites folder exist
    config = load_sources(summary.config)
    bundled = load_sources(BUNDLED_SOURCES)
    assert config.expectations_dir.resolve() == bundled.expectations_dir.resolve()
    assert {s.name: config.resolve(s.path) for s in config.sources} == {
        name: path.resolve() for name, path in summary.exports.items()
    }
    # the suites folder is the only value rewritten; comments and everything else are kept
    generated = summary.config.read_text(encoding="utf-8").splitlines()
    original = BUNDLED_SOURCES.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(original, generated, strict=True) if a != b]
    assert [a for a, _ in changed] == ["expectations: ../expectations"]
    assert changed[0][1].startswith("expectations: ")


def test_generating_into_a_copy_of_data_reproduces_it_byte_for_byte(tmp_path):
    data = BUNDLED_SOURCES.parent
    if not (data / "truth.csv").exists():
        pytest.skip("no committed sample")
    copy = tmp_path / "data"
    for name in FILES:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / name, copy / name)
    (copy / "sources.yaml").write_text("# an older sources file\n", encoding="utf-8")
    # `../expectations` from the copy reaches the bundled suites, as it does from data/
    (tmp_path / "expectations").symlink_to(PROJECT_ROOT / "expectations", target_is_directory=True)
    generate(copy, people=3000, seed=7)
    for name in (*FILES, "sources.yaml"):
        assert (copy / name).read_bytes() == (data / name).read_bytes(), name


# --------------------------------------------------------------------------- truth
def test_every_exported_row_is_in_truth_exactly_once(sample):
    ids = {
        "crm": [r[0] for r in sample.crm],
        "billing": sample.billing["account_id"].to_list(),
        "marketing": [str(m["id"]) for m in sample.marketing],
        "support": [r[0] for r in sample.support],
    }
    keys = Counter((t["source"], int(t["row_number"])) for t in sample.truth)
    assert max(keys.values()) == 1
    for source, column in ids.items():
        truth = sample.truth_for(source)
        assert sorted(truth) == list(range(1, len(column) + 1)), source
        assert [truth[i + 1]["source_record_id"] for i in range(len(column))] == column
    assert len(sample.truth) == sum(len(c) for c in ids.values())
    assert {int(t["person_id"]) for t in sample.truth} == set(range(800))


def test_support_has_several_tickets_for_some_people(sample):
    tickets = sample.persons_with("support")
    assert max(tickets.values()) >= 3
    assert max(tickets.values()) <= 6
    assert sum(1 for c in tickets.values() if c > 1) > 0.2 * len(tickets)


def test_some_people_are_in_only_one_source(sample):
    sources = defaultdict(set)
    for t in sample.truth:
        sources[int(t["person_id"])].add(t["source"])
    single = sum(1 for s in sources.values() if len(s) == 1)
    assert 0.08 * 800 < single < 0.25 * 800


def test_within_source_duplicates(sample):
    crm_twice = [p for p, c in sample.persons_with("crm").items() if c == 2]
    assert len(crm_twice) >= 0.015 * len(sample.persons_with("crm"))
    assert any(c == 2 for c in sample.persons_with("marketing").values())
    # The second CRM record of a person is not a verbatim copy.
    truth = sample.truth_for("crm")
    rows = defaultdict(list)
    for i, row in enumerate(sample.crm, 1):
        rows[int(truth[i]["person_id"])].append(row)
    for p in crm_twice:
        a, b = rows[p]
        assert a[1:5] != b[1:5]


def test_namesakes_exist():
    people = _build_people(Generator(PCG64(3)), 1000)
    by_name = defaultdict(list)
    for i in range(1000):
        by_name[(people.first[i], people.sur1[i], people.sur2[i], people.city[i])].append(i)
    groups = [g for g in by_name.values() if len(g) > 1]
    assert len(groups) >= 8  # ~1% explicit namesakes plus natural collisions
    for a, b, *_ in groups:
        assert people.dob[a] != people.dob[b]
        assert people.email[a] != people.email[b] and people.phone[a] != people.phone[b]


def test_namesakes_reach_the_exports(sample):
    truth = sample.truth_for("crm")
    persons = defaultdict(set)
    for i, row in enumerate(sample.crm, 1):
        if len(row) == 12 and row[1] and row[2]:
            persons[(row[1], row[2])].add(int(truth[i]["person_id"]))
    assert any(len(p) > 1 for p in persons.values())


# --------------------------------------------------------------------------- defects
def test_billing_titular_is_mostly_upper_last_first_without_accents(sample):
    titular = sample.billing["titular"].to_list()
    upper = [t for t in titular if re.fullmatch(r"[A-Z][A-Z' -]*, [A-Z][A-Z ]*", t)]
    assert len(upper) > 0.6 * len(titular)
    assert any(re.fullmatch(r"[A-Z][a-z' -]+( [A-Z][a-z-]+)*, [A-Z][a-z]+.*", t) for t in titular)
    assert not any(re.search(r"[ÁÉÍÓÚÑáéíóúñ]", t) for t in titular)


def test_postcodes_lost_their_leading_zero(sample):
    codes = sample.billing["codigo_postal"].drop_nulls().to_list()
    assert any(c < 10000 for c in codes)
    crm_cp = [r[8] for r in sample.crm if len(r) == 12 and r[8]]
    assert any(len(cp) == 4 for cp in crm_cp)
    assert any(len(cp) == 5 and cp.startswith("0") for cp in crm_cp)


def test_postcodes_agree_with_province(sample):
    code_of = {name: code for code, (name, _) in PROVINCES.items()}
    code_of |= {alias: code for code, (_, aliases) in PROVINCES.items() for alias in aliases}
    checked = 0
    for r in sample.crm:
        if len(r) == 12 and r[8] and r[9]:
            assert r[8].zfill(5)[:2] == code_of[r[9]], r
            checked += 1
    assert checked > 0.8 * len(sample.crm)


def test_cities_are_weighted_by_population(sample):
    cities = Counter(r[7] for r in sample.crm if len(r) == 12 and r[7])
    assert cities.most_common(1)[0][0] == "Madrid"
    assert cities["Madrid"] > cities["Barcelona"] > cities["Zamora"]
    assert {c[1] for c in CITIES} >= {"01", "03", "04", "05", "06", "07", "08"}


def test_phones_come_in_many_formats(sample):
    seen = {
        name
        for name, pattern in PHONE_FORMATS.items()
        if any(re.fullmatch(pattern, p) for p in all_phones(sample))
    }
    assert len(seen) >= 5, seen


def test_emails_have_case_and_whitespace_noise(sample):
    emails = all_emails(sample)
    assert any(e != e.strip() for e in emails)
    assert any(e.strip() != e.strip().lower() for e in emails)
    assert sum(e == e.strip().lower() for e in emails) > 0.7 * len(emails)


def test_some_people_have_an_old_email_somewhere(sample):
    crm_truth = sample.truth_for("crm")
    per_person = defaultdict(set)
    for i, r in enumerate(sample.crm, 1):
        if len(r) > 3 and "@" in r[3] and not r[3].endswith("@"):
            per_person[crm_truth[i]["person_id"]].add(r[3].strip().lower())
    for i, m in enumerate(sample.marketing, 1):
        if m["email"]:
            person = sample.truth_for("marketing")[i]["person_id"]
            per_person[person].add(m["email"].strip().lower())
    assert sum(len(e) > 1 for e in per_person.values()) > 10


def _values(sample) -> dict[int, dict]:
    with (sample.out / "truth_values.csv").open(encoding="utf-8", newline="") as fh:
        return {int(r["person_id"]): r for r in csv.DictReader(fh)}


def test_truth_values_hold_every_persons_current_and_outdated_values(sample):
    values = _values(sample)
    assert sorted(values) == list(range(sample.people))
    truth = sample.truth_for("crm")
    kinds = Counter()
    for i, r in enumerate(sample.crm, 1):
        if len(r) < 12 or not r[3] or r[3].endswith("@"):
            continue
        v = values[int(truth[i]["person_id"])]
        email = r[3].strip().lower()
        kinds["current" if email == v["email"] else "old" if email == v["old_email"] else "x"] += 1
        assert r[5] in ("", "01/01/2099") or r[5] == "/".join(v["date_of_birth"].split("-")[::-1])
        if r[8]:
            assert r[8].zfill(5) in (v["postcode"], v["old_postcode"])
        assert re.sub(r"\D", "", r[4] or "").endswith(v["phone"][3:]) or not r[4]
    # every readable email is one of the two; most are current, some outdated
    assert kinds["x"] == 0 and kinds["old"] > 0.03 * kinds["current"] > 0


def _updated_days(sample) -> dict[str, list[tuple[int, str, str, int]]]:
    """(person, email, postcode, day) of each CRM, billing and marketing record with a time."""
    out = defaultdict(list)
    truth = sample.truth_for("crm")
    for i, r in enumerate(sample.crm, 1):
        if len(r) > 11 and r[11] and r[3]:
            day = datetime.strptime(r[11], "%d/%m/%Y %H:%M").toordinal()
            out["crm"].append((int(truth[i]["person_id"]), r[3], r[8], day))
    truth = sample.truth_for("billing")
    for i, row in enumerate(sample.billing.iter_rows(named=True), 1):
        if row["email_facturacion"]:
            pc = str(row["codigo_postal"]) if row["codigo_postal"] is not None else ""
            day = row["fecha_actualizacion"].toordinal()
            out["billing"].append((int(truth[i]["person_id"]), row["email_facturacion"], pc, day))
    truth = sample.truth_for("marketing")
    for i, m in enumerate(sample.marketing, 1):
        if m["email"]:
            day = datetime.fromisoformat(m["updated_at"]).toordinal()
            out["marketing"].append((int(truth[i]["person_id"]), m["email"], m["postal_code"], day))
    return out


def test_a_record_showing_an_outdated_email_was_last_updated_before_one_showing_the_current(
    sample,
):
    # Outdated values sit in records nobody touched since the change (support tickets are
    # left as they are: they note whatever contact a ticket came from).
    values = _values(sample)
    old_days, new_days = defaultdict(list), defaultdict(list)
    for rows in _updated_days(sample).values():
        for person, email, _, day in rows:
            email = email.strip().lower()
            if email == values[person]["old_email"]:
                old_days[person].append(day)
            elif email == values[person]["email"]:
                new_days[person].append(day)
    both = [p for p in old_days if p in new_days]
    assert len(both) > 10
    bad = [p for p in both if max(old_days[p]) >= min(new_days[p])]
    print(len(bad), len(both), [(p, old_days[p], new_days[p]) for p in bad[:5]])
    assert not bad


def test_only_update_times_depend_on_the_history(tmp_path, monkeypatch):
    from whiteglove.sample_data import history

    generate(tmp_path / "a", people=300, seed=5)
    monkeypatch.setattr(
        history, "make_consistent", lambda seed, ppl, c, ct, b, bt, m, mt: (c, b, m)
    )
    generate(tmp_path / "b", people=300, seed=5)
    crm = [
        pl.read_csv(
            tmp_path / x / "exports/crm.csv",
            separator=";",
            infer_schema=False,
            truncate_ragged_lines=True,
        )
        for x in "ab"
    ]
    bill = [pl.read_parquet(tmp_path / x / "exports/billing.parquet") for x in "ab"]
    mkt = [pl.read_ndjson(tmp_path / x / "exports/marketing.jsonl") for x in "ab"]
    for (a, b), time in (
        (crm, "UltimaModificacion"),
        (bill, "fecha_actualizacion"),
        (mkt, "updated_at"),
    ):
        assert a.drop(time).equals(b.drop(time))
        assert not a[time].equals(b[time])  # the history did move some
    for name in ("exports/support.csv", "truth.csv", "truth_values.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_names_carry_nicknames_typos_and_missing_accents(sample):
    # Only nicknames that are not themselves given names (Javier is both).
    nicknames = {n for options in NICKNAMES.values() for n in options}
    nicknames -= {*MALE_NAMES, *FEMALE_NAMES}
    crm_names = [r[1] for r in sample.crm if len(r) > 1 and r[1]]
    assert sum(n in nicknames for n in crm_names) >= 5
    # Accent-less spellings of accented names (Jose, Maria, ...) appear next to the real ones.
    names = set(crm_names)
    assert any(n != strip_accents(n) and strip_accents(n) in names for n in names)
    # Some marketing names drop the second surname (~15%); some CRM ones get a compound one.
    short = [m for m in sample.marketing if len(m["name"].split()) == 2 and "-" not in m["name"]]
    assert len(short) > 0.08 * len(sample.marketing)
    assert any("-" in r[2] for r in sample.crm if len(r) > 2)
    # Support sometimes writes just "first surname" in lower case.
    assert any(r[1] == r[1].lower() and " " in r[1] for r in sample.support)


def test_dni_check_letter_is_correct_despite_formatting(sample):
    nifs = sample.billing["nif"].drop_nulls().to_list()
    assert any("-" in n for n in nifs) and any(n[-1].islower() for n in nifs)
    for nif in nifs:
        digits, letter = nif.replace("-", "")[:8], nif[-1].upper()
        assert DNI_LETTERS[int(digits) % 23] == letter, nif


def test_crm_has_each_kind_of_damaged_row(sample):
    ids = Counter(r[0] for r in sample.crm)
    assert any(r[0] == "" for r in sample.crm)
    assert any(len(r) != len(CRM_COLUMNS) for r in sample.crm)
    full = [r for r in sample.crm if len(r) == len(CRM_COLUMNS)]
    assert any(r[3].endswith("@") for r in full)
    assert any(r[5] == "01/01/2099" for r in full)
    assert any(r[0] and r[10] and not any(r[1:10]) and not r[11] for r in full)
    assert any(c > 1 for i, c in ids.items() if i)
    # Damaged rows are still attributed to a person, id-less ones by row number.
    truth = sample.truth_for("crm")
    blank = [i for i, r in enumerate(sample.crm, 1) if r[0] == ""]
    assert all(truth[i]["source_record_id"] == "" and truth[i]["person_id"] for i in blank)


# --------------------------------------------------------------------------- schemas
def test_crm_parses_with_documented_schema(sample):
    assert sample.crm_header == list(CRM_COLUMNS)
    full = [r for r in sample.crm if len(r) == len(CRM_COLUMNS) and r[0]]
    for r in full:
        assert re.fullmatch(r"C\d{6}", r[0])
        if r[5]:
            datetime.strptime(r[5], "%d/%m/%Y")
        datetime.strptime(r[10], "%d/%m/%Y")
        if r[11]:
            datetime.strptime(r[11], "%d/%m/%Y %H:%M")
    frame = pl.read_csv(
        sample.out / "exports/crm.csv", separator=";", infer_schema=False, encoding="utf8"
    )
    assert frame.columns == list(CRM_COLUMNS) and frame.height == len(sample.crm)
    dobs = [datetime.strptime(r[5], "%d/%m/%Y") for r in full if r[5] and r[5] != "01/01/2099"]
    assert min(dobs).year >= 1935 and max(dobs).year <= 2006


def test_billing_parses_with_documented_schema(sample):
    schema = pq.read_schema(sample.out / "exports/billing.parquet")
    types = {f.name: str(f.type) for f in schema}
    assert types == {
        "account_id": "string",
        "titular": "string",
        "email_facturacion": "string",
        "telefono": "string",
        "nif": "string",
        "direccion_facturacion": "string",
        "codigo_postal": "int64",
        "metodo_pago": "string",
        "importe_mensual": "double",
        "fecha_actualizacion": "timestamp[us]",
    }
    b = sample.billing
    assert all(re.fullmatch(r"B-\d{7}", i) for i in b["account_id"])
    assert set(b["metodo_pago"]) == {"tarjeta", "domiciliacion", "paypal", "transferencia"}
    assert b["importe_mensual"].min() > 0


def test_marketing_parses_with_documented_schema(sample):
    m = sample.marketing
    assert all(tuple(rec) == MARKETING_KEYS for rec in m)
    assert all(isinstance(rec["id"], int) and isinstance(rec["consent_email"], bool) for rec in m)
    assert {rec["segment"] for rec in m} == {"premium", "familia", "joven", "senior", "estandar"}
    missing_dob = sum(rec["birth_date"] is None for rec in m)
    assert 0.2 * len(m) < missing_dob < 0.4 * len(m)
    for rec in m:
        if rec["birth_date"]:
            datetime.strptime(rec["birth_date"], "%Y-%m-%d")
        datetime.fromisoformat(rec["updated_at"])
        assert rec["postal_code"] is None or isinstance(rec["postal_code"], str)
    # Segment follows age: nobody under 30 is "senior", nobody 65+ is "joven".
    for rec in m:
        if rec["birth_date"]:
            year = int(rec["birth_date"][:4])
            assert not (rec["segment"] == "senior" and year > 1990)
            assert not (rec["segment"] == "joven" and year < 1955)
    assert len(pl.read_ndjson(sample.out / "exports/marketing.jsonl")) == len(m)


def test_support_parses_with_documented_schema(sample):
    assert sample.support_header == list(SUPPORT_COLUMNS)
    assert all(len(r) == len(SUPPORT_COLUMNS) for r in sample.support)
    assert {r[5] for r in sample.support} == {"open", "closed", "pending"}
    assert {r[6] for r in sample.support} == {"phone", "email", "chat"}
    for r in sample.support:
        assert re.fullmatch(r"T-\d{6}", r[0])
        datetime.strptime(r[4], "%Y-%m-%d %H:%M:%S")
    subjects = [r[7] for r in sample.support]
    assert any("," in s for s in subjects) and any('"' in s for s in subjects)
    frame = pl.read_csv(sample.out / "exports/support.csv", infer_schema=False)
    assert frame["subject"].to_list() == subjects


def test_committed_sample_is_consistent():
    data = Path(__file__).resolve().parents[1] / "data"
    if not (data / "truth.csv").exists():
        pytest.skip("no committed sample")
    truth = pl.read_csv(data / "truth.csv", schema_overrides={"source_record_id": pl.String})
    counts = dict(truth.group_by("source").len().iter_rows())
    with (data / "exports/crm.csv").open(encoding="utf-8", newline="") as fh:
        assert counts["crm"] == sum(1 for _ in csv.reader(fh, delimiter=";")) - 1
    assert counts["billing"] == pq.read_metadata(data / "exports/billing.parquet").num_rows
    lines = (data / "exports/marketing.jsonl").read_text(encoding="utf-8").splitlines()
    assert counts["marketing"] == len(lines)
    assert truth["person_id"].n_unique() == 3000
