"""Personal data stays out of what people browse: Dagster metadata, logs and reports.

By default every email, phone number, birth date and national id of the input is masked in
the Dagster event log (previews, check results, log messages) and in the published reports;
`privacy.reveal_personal_data: true` in the sources file shows them, for local debugging.
"""

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import DagsterInstance, serialize_value

from assets.metadata import table_metadata
from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.masking import mask_frame, mask_text

EMAIL = re.compile(r"[\w.%+'\-]+@[\w\-]+(?:\.[\w\-]+)+")


def personal_values(root: Path) -> dict[str, set[str]]:
    """Emails, phones, birth dates and national ids of the generated exports, as written."""
    exports = root / "exports"
    crm = pl.read_csv(exports / "crm.csv", separator=";", infer_schema=False)
    support = pl.read_csv(exports / "support.csv", infer_schema=False)
    marketing = pl.read_ndjson(exports / "marketing.jsonl", infer_schema_length=None)
    billing = pl.read_parquet(exports / "billing.parquet")
    text = "\n".join(p.read_text(encoding="utf-8") for p in exports.glob("*.[cj]s*"))
    phones = [crm["Teléfono"], support["contact_phone"], marketing["mobile"], billing["telefono"]]
    births = [crm["FechaNacimiento"], marketing["birth_date"].cast(pl.String)]
    return {
        "email": {e.lower() for e in EMAIL.findall(text)}
        | {e.lower() for e in billing["email_facturacion"].drop_nulls()},
        "phone": {str(p).strip() for s in phones for p in s.drop_nulls() if len(str(p)) >= 9},
        "birth": {d for s in births for d in s.drop_nulls() if _before_2010(d)},
        "national_id": set(billing["nif"].drop_nulls()),
    }


def _before_2010(text: str) -> bool:
    # only dates that cannot be confused with the run's own timestamps
    years = re.findall(r"\d{4}", text)
    return bool(years) and int(years[0]) < 2010


def leaks(text: str, values: dict[str, set[str]]) -> dict[str, list[str]]:
    lowered = text.lower()
    found = {
        kind: sorted(v for v in found_values if _contains(lowered, v.lower()))
        for kind, found_values in values.items()
    }
    return {k: v for k, v in found.items() if v}


def _contains(text: str, value: str) -> bool:
    # digits must not continue on either side: a phone is not part of a timestamp
    if value not in text:  # the quick test first: the event log runs to megabytes
        return False
    return re.search(rf"(?<![\d\w]){re.escape(value)}(?![\d\w])", text) is not None


def run_and_read_event_log(sources: Path, out: Path) -> tuple[str, dict[str, dict]]:
    """The run's whole event log as text, and each materialized asset's metadata."""
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR")
        assert outcome.success, outcome.failures
        entries = instance.all_logs(outcome.run_id)
        metadata = {
            e.dagster_event.asset_key.to_user_string(): e.dagster_event.materialization.metadata
            for e in entries
            if e.dagster_event is not None and e.dagster_event.is_step_materialization
        }
        return "\n".join(serialize_value(e) for e in entries), metadata


def put_personal_values_in_a_shown_column(root: Path) -> None:
    """Ticket statuses that are an email, a phone, a national id and a birth date of the
    sample. The bundled suite quotes the statuses it does not expect (meta.show_values), so
    these reach check results, the Dagster event log and Data Docs, where they must arrive
    masked."""
    exports = root / "exports"
    crm = pl.read_csv(exports / "crm.csv", separator=";", infer_schema=False)
    nif = pl.read_parquet(exports / "billing.parquet")["nif"].drop_nulls()[0]
    values = [
        crm["Email"].drop_nulls()[0],
        crm["Teléfono"].drop_nulls()[0],
        nif,
        crm["FechaNacimiento"].drop_nulls()[0],
    ]
    support = pl.read_csv(exports / "support.csv", infer_schema=False)
    statuses = values + support["status"].to_list()[len(values) :]
    support.with_columns(pl.Series("status", statuses)).write_csv(exports / "support.csv")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("privacy")
    make_sample(root, people=80, seed=41)
    put_personal_values_in_a_shown_column(root)
    return root


@pytest.fixture(scope="module")
def masked_run_with_metadata(sample) -> tuple[Path, str, dict[str, dict]]:
    log, metadata = run_and_read_event_log(sample / "sources.yaml", sample / "out")
    return sample, log, metadata


@pytest.fixture(scope="module")
def masked_run(masked_run_with_metadata) -> tuple[Path, str]:
    sample, log, _ = masked_run_with_metadata
    return sample, log


def test_the_sample_holds_personal_data_to_look_for(sample):
    values = personal_values(sample)
    assert all(len(v) >= 10 for v in values.values()), {k: len(v) for k, v in values.items()}


def test_no_personal_value_reaches_the_dagster_event_log_by_default(masked_run):
    sample, log = masked_run
    assert "preview" in log and "@" in log  # the previews are there, masked: x***@domain
    assert leaks(log, personal_values(sample)) == {}


def test_no_standardized_value_reaches_the_event_log_either(masked_run):
    sample, log = masked_run
    golden = pl.read_parquet(sample / "out" / "golden_customers.parquet")
    standardized = {
        "email": set(golden["email"].drop_nulls()),
        "phone": set(golden["phone"].drop_nulls()),  # E.164
        "birth": {d.isoformat() for d in golden["date_of_birth"].drop_nulls()},
        "national_id": set(golden["national_id"].drop_nulls()),
    }
    assert leaks(log, standardized) == {}


def test_published_reports_and_summary_hold_no_personal_value(masked_run):
    sample, _ = masked_run
    out = sample / "out"
    values = personal_values(sample)
    texts = [p for p in (out / "reports").rglob("*") if p.suffix in {".html", ".json"}]
    assert any(p.name.endswith(".html") for p in texts)
    for path in [*texts, out / "run_summary.json"]:
        assert leaks(path.read_text(encoding="utf-8", errors="replace"), values) == {}, path


def test_the_privacy_switch_reveals_them_for_debugging(sample, tmp_path):
    config = yaml.safe_load((sample / "sources.yaml").read_text(encoding="utf-8"))
    config["privacy"] = {"reveal_personal_data": True}
    sources = tmp_path / "sources.yaml"
    config["sources"] = [
        s | {"path": str(sample / s["path"])} for s in config["sources"]
    ]  # same exports
    config["linkage"]["labels"]["file"] = str(sample / "truth.csv")  # and the same labels
    sources.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))

    log, _ = run_and_read_event_log(sources, tmp_path / "out")

    found = leaks(log, personal_values(sample))
    assert found.get("email") and found.get("phone")


def test_mask_text_masks_each_kind_wherever_it_appears():
    text = (
        "Ana <ana.ruiz@gmail.com> +34 612 345 678, 0034612345678, 612-345-678, "
        "born 05/11/1953 or 1953-11-05, DNI 12345678Z, NIE X1234567L, id C000123, 12.5 EUR"
    )
    masked = mask_text(text)
    for secret in ["ana.ruiz", "612 345", "612345678", "612-345", "1953", "12345678Z", "1234567L"]:
        assert secret not in masked
    assert "a***@gmail.com" in masked and "****678" in masked
    assert "C000123" in masked and "12.5 EUR" in masked  # ids and amounts stay readable


def test_mask_frame_masks_raw_columns_whatever_they_are_called():
    raw = pl.DataFrame(
        {
            "IdCliente": ["C000003"],
            "Email": ["gallardo.maria33@hotmail.com"],
            "Teléfono": ["0034661625210"],
            "telefono": [34680385293],
            "FechaNacimiento": ["05/11/1953"],
            "nif": ["12345678Z"],
            "date_of_birth": [date(1953, 11, 5)],
            "golden_id": ["G1234567890ABCDEF"],
            "Nombre": ["María"],
        }
    )
    row = mask_frame(raw).row(0, named=True)
    assert row["IdCliente"] == "C000003" and row["golden_id"] == "G1234567890ABCDEF"
    assert row["Email"] == "g***@hotmail.com"
    assert row["Teléfono"] == "****210" and row["telefono"] == "****293"
    assert row["FechaNacimiento"] == "**/**/****" and row["date_of_birth"] == "1953-**-**"
    assert row["nif"] == "****78Z"
    assert row["Nombre"] == "María"  # names are not among the masked kinds


def test_table_metadata_masks_unless_told_to_reveal():
    frame = pl.DataFrame({"Email": ["ana.ruiz@gmail.com"], "phone": ["+34612345678"]})
    masked = serialize_value(table_metadata(frame)["preview"])
    assert "ana.ruiz" not in masked and "612345678" not in masked
    revealed = serialize_value(table_metadata(frame, reveal_personal_data=True)["preview"])
    assert "ana.ruiz@gmail.com" in revealed and "+34612345678" in revealed


# Columns of the generated exports that hold no personal data, by source: ids, update times,
# postcodes, amounts. A preview shows them exactly as the export has them.
NOT_PERSONAL = {
    "crm": ("IdCliente", "UltimaModificacion", "CP", "Ciudad", "Nombre"),
    "billing": ("account_id", "fecha_actualizacion", "codigo_postal", "importe_mensual"),
    "marketing": ("id", "updated_at", "postal_code", "city", "segment"),
    "support": ("ticket_id", "opened_at", "channel", "customer_name"),
}


def export_rows(sample: Path, source: str) -> list[dict]:
    exports = sample / "exports"
    frame = {
        "crm": lambda: pl.read_csv(exports / "crm.csv", separator=";", infer_schema=False),
        "billing": lambda: pl.read_parquet(exports / "billing.parquet"),
        "marketing": lambda: pl.read_ndjson(exports / "marketing.jsonl", infer_schema_length=None),
        "support": lambda: pl.read_csv(exports / "support.csv", infer_schema=False),
    }[source]()
    return frame.head(5).to_dicts()


def test_previews_keep_every_non_personal_value_as_the_export_has_it(masked_run_with_metadata):
    sample, _, metadata = masked_run_with_metadata
    for source, columns in NOT_PERSONAL.items():
        preview = metadata[f"raw_{source}"]["preview"]
        records = [r.data for r in preview.records]
        assert len(records) == 5
        for row, given in zip(records, export_rows(sample, source), strict=True):
            for column in columns:
                shown, value = row[column], given[column]
                # numbers stay numbers; nothing here is long enough for the preview to cut
                assert (shown is None) == (value is None), (source, column, shown, value)
                assert str(shown) == str(value), (source, column, shown, value)


def test_counts_in_check_results_and_metadata_are_figures_not_masks(masked_run_with_metadata):
    sample, log, metadata = masked_run_with_metadata
    summary = json.loads((sample / "out" / "run_summary.json").read_text(encoding="utf-8"))
    for source, figures in summary["sources"].items():
        assert metadata[f"raw_{source}"]["dagster/row_count"].value == figures["rows_read"]
    # no digit of any count, row number or id in the log sits next to a mask character,
    # except in values that are masked on purpose: ****678 (phones), ****78Z (ids)
    masked_tails = re.findall(r"\*{3,}\d{2,3}[A-Z]?\b", log)
    # (a masked initial may be a JSON escape, "\u00c1***" for "Á***": not a digit)
    stray = re.findall(r"\d\*|[^*]\*{1,2}\d", re.sub(r"\\u[0-9a-fA-F]{4}", "u", log))
    assert masked_tails and not stray, stray[:5]
