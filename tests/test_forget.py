"""Forget a person: nothing of them is left anywhere under --out or in the Dagster event log,
later runs keep them out with the counts adding up, a killed erasure is finished, and the
suppression list and audit log hold no personal value.

A person with values no generated person has is added to a small generated sample (a crm row,
a duplicate of it, a billing account, a marketing contact and a support ticket), so that every
one of their values can be searched for without hitting somebody else's.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from pipelines.cli import main as cli
from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.config import ValidityConfig
from whiteglove.forget import PAUSE_VARIABLE, ForgetError, ForgetRequest, forget
from whiteglove.layout import PROJECT_ROOT, OutputLayout
from whiteglove.publish import publish
from whiteglove.schema import DNI_LETTERS, IDENTITY_FIELDS
from whiteglove.suppression import SUPPRESSION_REASON, SuppressionList, standardized_value

PEOPLE, SEED = 150, 11
NUMBER = 71203945
NIF = f"{NUMBER}{DNI_LETTERS[NUMBER % 23]}"
EMAIL = "zenobia.quiroga@ejemplo-unico.es"
# Every value of the person as the exports hold them; the standardized forms are read from
# the run itself (test `_standardized_values`).
EXPORTED = [
    "Zenobia",
    "Quiroga Villalustre",
    "Zenobia Quiroga Villalustre",
    "QUIROGA VILLALUSTRE, ZENOBIA",
    "Zenobia Quiroga",
    EMAIL,
    "Zenobia.Quiroga@Ejemplo-Unico.es",
    "+34 611 987 654",
    "611987654",
    "611 98 76 54",
    "03/09/1971",
    "1971-09-03",
    NIF,
    "Calle de Xanadú Imposible, 77",
    "CALLE DE XANADU IMPOSIBLE 77",
    "Villalustre del Páramo",
]
CRM_ROW = (
    "C999001;Zenobia;Quiroga Villalustre;Zenobia.Quiroga@Ejemplo-Unico.es;+34 611 987 654;"
    "03/09/1971;Calle de Xanadú Imposible, 77;Villalustre del Páramo;24700;León;03/02/2015;"
    "02/01/2024 14:45"
)


def _add_person(root: Path) -> None:
    exports = root / "exports"
    crm = (exports / "crm.csv").read_text(encoding="utf-8")
    for value in EXPORTED:  # nobody generated shares a value with the person
        assert value.casefold() not in crm.casefold()
    # the row twice: the second is quarantined as a duplicate id, raw text and all
    with (exports / "crm.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{CRM_ROW}\n{CRM_ROW}\n")
    with (exports / "marketing.jsonl").open("a", encoding="utf-8") as fh:
        record = {
            "id": 999001,
            "name": "Zenobia Quiroga Villalustre",
            "email": EMAIL,
            "mobile": "611987654",
            "birth_date": "1971-09-03",
            "postal_code": "24700",
            "city": "Villalustre del Páramo",
            "segment": "familia",
            "consent_email": True,
            "updated_at": "2023-06-16T13:55:40",
        }
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (exports / "support.csv").open("a", encoding="utf-8") as fh:
        fh.write(
            f"T-999001,Zenobia Quiroga,{EMAIL},611 98 76 54,2024-02-01 10:00:00,open,chat,Baja\n"
        )
    billing = pl.read_parquet(exports / "billing.parquet")
    row = {
        "account_id": "B-9990001",
        "titular": "QUIROGA VILLALUSTRE, ZENOBIA",
        "email_facturacion": EMAIL,
        "telefono": "611987654",
        "nif": NIF,
        "direccion_facturacion": "CALLE DE XANADU IMPOSIBLE 77",
        "codigo_postal": 24700,
        "metodo_pago": "tarjeta",
        "importe_mensual": 17.2,
        "fecha_actualizacion": datetime(2024, 1, 2, 3, 4, 5),
    }
    pl.concat([billing, pl.DataFrame([row], schema=billing.schema)]).write_parquet(
        exports / "billing.parquet"
    )
    truth = root / "truth.csv"
    with truth.open("a", encoding="utf-8") as fh:
        for source, record_id in (
            ("crm", "C999001"),
            ("billing", "B-9990001"),
            ("marketing", "999001"),
            ("support", "T-999001"),
        ):
            fh.write(f"{source},{record_id},,999999\n")


def _texts(path: Path) -> list[str]:
    """What a file holds, as bytes read as text and, for tables, every cell decoded."""
    texts = [path.read_bytes().decode("utf-8", "replace")]
    if path.suffix == ".parquet":
        texts.append(pl.read_parquet(path).write_ndjson())
    elif path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            for (table,) in con.execute("select table_name from duckdb_tables()").fetchall():
                rows = con.sql(f'select * from "{table}"').to_arrow_table()
                texts.append(pl.from_arrow(rows).write_ndjson())
        finally:
            con.close()
    return texts


def _forms(value: str) -> set[str]:
    return {value.casefold(), html.escape(value).casefold(), json.dumps(value)[1:-1].casefold()}


def _found(texts: dict[str, list[str]], values: list[str]) -> dict[str, list[str]]:
    """value -> the places that hold it."""
    found: dict[str, list[str]] = {}
    for where, parts in texts.items():
        folded = [p.casefold() for p in parts]
        for value in values:
            if any(form in part for form in _forms(value) for part in folded):
                found.setdefault(value, []).append(where)
    return found


def _folder_texts(out: Path) -> dict[str, list[str]]:
    return {
        str(p.relative_to(out)): _texts(p)
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _event_texts(instance: DagsterInstance) -> dict[str, list[str]]:
    texts = {}
    for run in instance.get_runs():
        texts[f"event log of run {run.run_id}"] = [
            serialize_value(entry) for entry in instance.all_logs(run.run_id)
        ]
        texts[f"run {run.run_id}"] = [serialize_value(run)]
    return texts


def _storage_texts(home: Path) -> dict[str, list[str]]:
    """Every file of the instance's storage (its SQLite event log included), as bytes."""
    return {
        f"DAGSTER_HOME/{p.relative_to(home)}": [p.read_bytes().decode("utf-8", "replace")]
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def _person_records(out: Path) -> pl.DataFrame:
    records = pl.read_parquet(OutputLayout(out).asset_value("customer_records", ".parquet"))
    return records.filter(pl.col("email") == EMAIL)


def _standardized_values(out: Path) -> list[str]:
    """The person's values as the run standardized them."""
    # the identity fields that name this person alone (not postcode, region or country)
    columns = [f for f in IDENTITY_FIELDS if f not in ("postcode", "region", "country")]
    mine = _person_records(out).select(columns)
    return sorted({str(v) for c in columns for v in mine[c].drop_nulls().to_list()})


def _run(sources: Path, out: Path, instance: DagsterInstance, incremental: bool = False):
    outcome = run_pipeline(
        sources, out, instance=instance, log_level="ERROR", incremental=incremental
    )
    assert outcome.success, outcome.failures
    return outcome


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    """A sample with the person, run twice (two snapshots), copied, then the person erased
    by their email as an agent might type it."""
    root = tmp_path_factory.mktemp("forget")
    sources = make_sample(root, PEOPLE, SEED)
    _add_person(root)
    out = root / "out"
    home = root / "dagster_home"
    home.mkdir()
    instance = DagsterInstance.local_temp(tempdir=str(home))
    _run(sources, out, instance)
    # a full run: an incremental one on the same inputs would keep the first publication
    _run(sources, out, instance)
    before = root / "before"
    shutil.copytree(out, before, symlinks=True)
    golden_ids = sorted(
        set(
            pl.read_parquet(out / "customer_xref.parquet")
            .filter(
                pl.col("source_record_id").is_in(["C999001", "B-9990001", "999001", "T-999001"])
            )
            .get_column("golden_id")
        )
    )
    values = sorted(set(EXPORTED) | set(_standardized_values(out)))
    status = cli(
        [
            "forget",
            "--out",
            str(out),
            "--email",
            " ZENOBIA.Quiroga@ejemplo-unico.ES ",
            "--by",
            "dpo@example.es",
        ]
    )
    assert status == 0
    yield {
        "root": root,
        "sources": sources,
        "out": out,
        "before": before,
        "home": home,
        "instance": instance,
        "values": values,
        "golden_ids": golden_ids,
    }
    instance.dispose()


def test_the_search_finds_the_person_before_the_erasure(erased):
    """Without this, the searches below could find nothing because they look wrongly."""
    found = _found(_folder_texts(erased["before"]), erased["values"])
    assert sorted(found) == erased["values"]
    places = {p for where in found.values() for p in where}
    # in the published tables, DuckDB, review queue, snapshots and working state alike
    assert any(p.endswith("customers.duckdb") for p in places)
    assert any(p.startswith(".work/raw_") for p in places)
    assert any(p.endswith("quarantine.parquet") for p in places)
    assert len([p for p in places if p.endswith("golden_customers.parquet")]) >= 3
    # one golden customer holds the person's records
    assert len(erased["golden_ids"]) == 1


def test_no_value_of_the_person_is_left_anywhere(erased):
    out = erased["out"]
    assert len(list((out / "snapshots").iterdir())) == 2
    texts = _folder_texts(out)
    texts |= _event_texts(erased["instance"])
    texts |= _storage_texts(erased["home"])
    assert _found(texts, erased["values"]) == {}
    # nor their golden id, in any table of any snapshot
    for snapshot in (out / "snapshots").iterdir():
        golden = pl.read_parquet(snapshot / "golden_customers.parquet")
        assert not set(golden["golden_id"]) & set(erased["golden_ids"])


def test_the_published_counts_still_add_up_and_other_customers_stay(erased):
    out, before = erased["out"], erased["before"]
    for snapshot in (out / "snapshots").iterdir():
        summary = json.loads((snapshot / "run_summary.json").read_text())
        xref = pl.read_parquet(snapshot / "customer_xref.parquet")
        quarantine = pl.read_parquet(snapshot / "quarantine.parquet")
        for source, counts in summary["sources"].items():
            kept = xref.filter(pl.col("source") == source).height
            dropped = quarantine.filter(pl.col("source") == source).height
            assert (
                counts["rows_read"] == kept + dropped == counts["accepted"] + counts["quarantined"]
            )
        erased_rows = quarantine.filter(pl.col("reasons").list.contains(SUPPRESSION_REASON))
        # crm row, its duplicate, billing, marketing and support
        assert erased_rows.height == 5
        assert erased_rows["raw"].to_list() == [""] * 5
        assert erased_rows["source_record_id"].null_count() == 5
        old = pl.read_parquet(before / "snapshots" / snapshot.name / "golden_customers.parquet")
        new = pl.read_parquet(snapshot / "golden_customers.parquet")
        assert new.height == old.height - 1
        assert new.equals(old.filter(~pl.col("golden_id").is_in(erased["golden_ids"])))


def test_the_next_run_keeps_them_out(erased):
    out = erased["out"]
    _run(erased["sources"], out, erased["instance"], incremental=True)
    texts = _folder_texts(out) | _event_texts(erased["instance"]) | _storage_texts(erased["home"])
    assert _found(texts, erased["values"]) == {}
    summary = json.loads((out / "run_summary.json").read_text())
    xref = pl.read_parquet(out / "customer_xref.parquet")
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    for source, counts in summary["sources"].items():  # every input row accounted for
        kept = xref.filter(pl.col("source") == source).height
        dropped = quarantine.filter(pl.col("source") == source).height
        assert counts["rows_read"] == kept + dropped
    # the summary says which sources still export the erased person
    assert {s: c["erased_on_request"] for s, c in summary["sources"].items()} == {
        "crm": 2,
        "billing": 1,
        "marketing": 1,
        "support": 1,
    }
    erased_rows = quarantine.filter(pl.col("reasons").list.contains(SUPPRESSION_REASON))
    assert sorted(erased_rows["source"].to_list()) == [
        "billing",
        "crm",
        "crm",
        "marketing",
        "support",
    ]
    assert erased_rows["reasons"].to_list() == [[SUPPRESSION_REASON]] * 5
    assert set(erased_rows["raw"]) == {""}


def test_the_suppression_list_and_audit_log_hold_no_personal_value(erased):
    out = erased["out"]
    layout = OutputLayout(out)
    listed = {layout.suppression.name: [layout.suppression.read_text()]}
    logged = {layout.erasure_log.name: [layout.erasure_log.read_text()]}
    record_ids = ["C999001", "B-9990001", "999001", "T-999001"]
    assert _found(listed | logged, erased["values"] + record_ids) == {}
    suppression = SuppressionList.load(layout)
    assert {e["kind"] for e in suppression.entries} == {"record", "email", "national_id"}
    assert all(len(e["hash"]) == 64 for e in suppression.entries)
    assert suppression.listed("record", "crm:C999001")
    assert suppression.listed("email", EMAIL)
    assert suppression.listed("national_id", NIF)
    (entry,) = [json.loads(line) for line in layout.erasure_log.read_text().splitlines()]
    assert entry["by"] == "dpo@example.es"
    assert entry["identifiers"] == {"email": 1}
    assert entry["golden_ids"] == erased["golden_ids"]
    assert entry["records"] == 4 and entry["input_rows"] == 5
    assert entry["files_changed"] > 20
    # the reports mask emails, phones, dates and ids, but the data quality report lists the
    # quarantined duplicate with its record id and city (not masked): that page, in each
    # snapshot and in .work, was replaced; no other page held a value of the person
    assert len(entry["pages_replaced"]) == 3
    assert {Path(p).name for p in entry["pages_replaced"]} == {"data_quality.html"}


def test_forgetting_again_says_already_erased(erased, tmp_path, capsys):
    log = OutputLayout(erased["out"]).erasure_log.read_text()
    listing = tmp_path / "ids.txt"
    listing.write_text(f"# the same person again\nemail={EMAIL}\nsource_record=crm:C999001\n")
    status = cli(["forget", "--out", str(erased["out"]), "--file", str(listing)])
    assert status == 0
    assert "already erased" in capsys.readouterr().out
    # nobody of that email, nothing listed: refused, nothing changes
    assert cli(["forget", "--out", str(erased["out"]), "--email", "nadie@ejemplo.es"]) == 2
    assert cli(["forget", "--out", str(erased["out"]), "--source-record", "crm:NOPE"]) == 2
    assert cli(["forget", "--out", str(erased["out"]), "--golden-id", "G0000"]) == 2
    assert OutputLayout(erased["out"]).erasure_log.read_text() == log


def test_a_folder_in_use_is_refused_clearly(erased, capsys):
    from whiteglove.publish import RUN_LOCK, output_lock

    with output_lock(erased["out"], RUN_LOCK):
        status = cli(["forget", "--out", str(erased["out"]), "--email", EMAIL])
    assert status == 2
    assert "another run is publishing" in capsys.readouterr().err


@pytest.mark.parametrize("point", ["values", "rows"])
def test_a_killed_erasure_is_finished_by_the_next(erased, tmp_path, point):
    out = tmp_path / "out"
    shutil.copytree(erased["before"], out, symlinks=True)
    command = [sys.executable, "-m", "pipelines.cli", "forget", "--out", str(out)]
    # no DAGSTER_HOME (`make test` sets one): this test is about files, not the event log
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env |= {PAUSE_VARIABLE: point, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [*command, "--source-record", "billing:B-9990001"],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = []  # whatever else the process says first (a library's warning) is skipped
        while (line := process.stderr.readline()) and f"paused in forget at {point}" not in line:
            said.append(line)
        assert f"paused in forget at {point}" in line, "".join(said)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    layout = OutputLayout(out)
    assert layout.forget_journal.is_file()  # the erasure is known to be unfinished
    journal = layout.forget_journal.read_text()
    assert _found({"journal": [journal]}, erased["values"]) == {}
    # the kill left some files rewritten and others not
    assert _found(_folder_texts(out), erased["values"])
    rerun = subprocess.run(
        command, cwd=PROJECT_ROOT, env={**env, PAUSE_VARIABLE: ""}, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert not layout.forget_journal.exists()
    assert _found(_folder_texts(out), erased["values"]) == {}
    assert len(layout.erasure_log.read_text().splitlines()) == 1


def test_phones_and_emails_match_as_standardized():
    validity = ValidityConfig()
    assert standardized_value("phone", "611 98 76 54", "ES", validity) == "+34611987654"
    assert standardized_value("phone", "+34611987654", "ES", validity) == "+34611987654"
    assert standardized_value("email", " Ana.Ruiz@X.ES ", "ES", validity) == "ana.ruiz@x.es"
    first, second = SuppressionList.new(), SuppressionList.new()
    # salted: the same value hashes differently in two folders, the same in one
    assert first.digest("email", "ana.ruiz@x.es") != second.digest("email", "ana.ruiz@x.es")
    assert first.digest("email", "ana.ruiz@x.es") == first.digest("email", "ana.ruiz@x.es")


def test_bad_identifiers_are_refused(tmp_path):
    request = ForgetRequest()
    with pytest.raises(ForgetError, match="SOURCE:ID"):
        request.add("source_record", "C0001")
    with pytest.raises(ForgetError, match="not a whiteglove output folder"):
        forget(tmp_path, ForgetRequest(golden_ids=["G1"]))
    listing = tmp_path / "ids.txt"
    listing.write_text("# one person\nemail=a@b.es\nname=Ana\n")
    assert cli(["forget", "--out", str(tmp_path), "--file", str(listing)]) == 2


def test_snapshots_are_kept_by_count_and_by_age(tmp_path):
    out = tmp_path / "out"
    frame = pl.DataFrame({"golden_id": ["G1"]})
    now = datetime.now(UTC)
    names = [
        f"{(now - timedelta(days=days)):%Y%m%dT%H%M%S}Z-run{days:05d}" for days in (40, 20, 3, 2)
    ]
    for name in names[:3]:
        publish(out, name, tables={"golden_customers": frame}, documents={}, keep_snapshots=5)
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == names[:3]
    publish(
        out,
        names[3],
        tables={"golden_customers": frame},
        documents={},
        keep_snapshots=3,
        max_snapshot_age_days=10,
    )
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == names[2:]
    publish(
        out,
        f"{now:%Y%m%dT%H%M%S}Z-runlast",
        tables={"golden_customers": frame},
        documents={},
        keep_snapshots=1,
    )
    assert [p.name for p in (out / "snapshots").iterdir()] == [f"{now:%Y%m%dT%H%M%S}Z-runlast"]


def test_a_running_lookup_server_stops_finding_the_person(erased, tmp_path):
    from whiteglove.lookup import LiveIndex

    out = tmp_path / "out"
    shutil.copytree(erased["before"], out, symlinks=True)
    live = LiveIndex(out)
    found = live.current().lookup({"email": EMAIL})
    assert found["golden_id"] == erased["golden_ids"][0]
    forget(out, ForgetRequest(golden_ids=erased["golden_ids"]), by="test")
    live.current()  # sees the rewritten snapshot, reloads it in the background
    live.wait()
    assert live.current().lookup({"email": EMAIL})["golden_id"] is None


def test_runs_whose_events_hold_the_person_are_named_and_deleted(
    erased, tmp_path, monkeypatch, capsys
):
    """Dagster cannot edit an event: forget names the runs whose events hold the person's
    values and, when asked, deletes them; a run without them stays."""
    from dagster import job, op

    @op
    def mentions_the_person(context):
        context.log.info(f"a steward looked at {EMAIL}")

    @op
    def mentions_nobody(context):
        context.log.info("nothing personal")

    @job
    def leaky():
        mentions_the_person()

    @job
    def clean():
        mentions_nobody()

    home = tmp_path / "home"
    home.mkdir()
    with DagsterInstance.local_temp(tempdir=str(home)) as instance:
        leaked = leaky.execute_in_process(instance=instance).run_id
        kept = clean.execute_in_process(instance=instance).run_id
    out = tmp_path / "out"
    shutil.copytree(erased["before"], out, symlinks=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    capsys.readouterr()
    assert cli(["forget", "--out", str(out), "--email", EMAIL, "--delete-dagster-runs"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dagster_runs_holding_values"] == [leaked]
    assert printed["dagster_runs_deleted"] == 1
    with DagsterInstance.local_temp(tempdir=str(home)) as instance:
        assert [r.run_id for r in instance.get_runs()] == [kept]
        assert _found(_event_texts(instance) | _storage_texts(home), [EMAIL]) == {}


def test_a_listed_row_is_emptied_and_keeps_its_place():
    from whiteglove.config import FieldSpec, LimitsConfig, SourceConfig
    from whiteglove.standardize import standardize_source
    from whiteglove.suppression import suppress_raw

    raw = pl.DataFrame(
        {
            "_source": ["s"] * 3,
            "_file": ["f"] * 3,
            "_row_number": [1, 2, 3],
            "_loaded_at": [datetime(2024, 1, 1, tzinfo=UTC)] * 3,
            "_raw": [None] * 3,
            "_parse_error": [None] * 3,
            "id": ["1", "2", "3"],
            "name": ["Ana Ruiz", "Bea Gil", "Eva Sanz"],
            "tel": ["611 98 76 54", "622000111", "633000222"],
        },
        schema_overrides={"_raw": pl.String, "_parse_error": pl.String},
    )
    source = SourceConfig(
        name="s",
        path="-",
        format="csv",
        id="id",
        trust=1,
        fields={"full_name": FieldSpec(column="name"), "phone": FieldSpec(column="tel")},
    )
    listed = SuppressionList.new()
    listed.add("record", ["s:2"], "e1")  # Bea by her record id
    listed.add("phone", ["+34611987654"], "e2")  # Ana by her phone, written otherwise
    options = {"country": "ES", "validity": ValidityConfig(), "limits": LimitsConfig()}
    emptied, count = suppress_raw(raw, source, listed, **options)
    assert count == 2
    assert emptied["name"].to_list() == [None, None, "Eva Sanz"]
    assert emptied["_raw"].to_list() == ["", "", None]
    standardized = standardize_source(emptied, source, "ES")
    assert standardized["_reasons"].to_list() == [[SUPPRESSION_REASON]] * 2 + [[]]
    assert standardized["_raw"].to_list()[:2] == ["", ""]
    assert standardized["row_number"].to_list() == [1, 2, 3]
    # an empty list changes nothing and costs nothing
    assert suppress_raw(raw, source, SuppressionList.new(), **options) == (raw, 0)


def test_a_page_holding_a_value_is_replaced_and_named(erased, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(erased["before"], out, symlinks=True)
    latest = os.readlink(out / "latest")
    (older,) = [p for p in (out / "snapshots").iterdir() if p.name != Path(latest).name]
    untouched = (older / "reports" / "linkage.html").read_bytes()
    page = out / latest / "reports" / "linkage.html"
    page.write_text(page.read_text() + f"<p>{html.escape(EMAIL.upper())}</p>")
    capsys.readouterr()
    assert cli(["forget", "--out", str(out), "--golden-id", erased["golden_ids"][0]]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert f"{latest}/reports/linkage.html" in printed["pages_replaced"]
    assert f"{older.relative_to(out)}/reports/linkage.html" not in printed["pages_replaced"]
    assert "Page removed" in page.read_text() and EMAIL not in page.read_text().casefold()
    assert (older / "reports" / "linkage.html").read_bytes() == untouched
