"""Incremental runs read only what was appended to an export (whiteglove/appended.py).

Each case builds a source's stored tables as the raw and standardize assets do, changes the
export, builds them again incrementally, and compares with a whole extraction of the same
files: the tables must be equal row for row (but `_loaded_at`, the time a row was loaded).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import make_sample
from whiteglove.appended import read_source, standardize_appended
from whiteglove.config import SourcesConfig, load_sources
from whiteglove.incremental import source_fingerprint, source_settings_fingerprint
from whiteglove.layout import OutputLayout
from whiteglove.standardize import standardize_source
from whiteglove.suppression import SUPPRESSION_REASON, SuppressionList
from whiteglove.validation import suite_for

PEOPLE = 300
SEED = 20261130


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("appended")
    make_sample(root, PEOPLE, SEED)
    return root


@pytest.fixture
def sample(generated: Path, tmp_path: Path) -> Path:
    """A copy of the generated sample this test may change; its sources file's path."""
    shutil.copytree(generated, tmp_path / "sample")
    return next((tmp_path / "sample").glob("*.yaml"))


def build(config: SourcesConfig, name: str, out: Path, incremental: bool, erased=None):
    """Store `name`'s raw and standardized tables and validations as the assets do.

    Returns what extraction read and how many rows were standardized in this build.
    """
    layout = OutputLayout(out)
    layout.work.mkdir(parents=True, exist_ok=True)
    source = config.source(name)
    suite = suite_for(config, name)
    suppression = erased or SuppressionList.new()
    fingerprint = source_fingerprint(config, source, suite)
    settings = source_settings_fingerprint(config, source, suite)
    read = read_source(config, source, settings, suppression, layout if incremental else None)
    raw_validation = {
        "success": True,
        **read.record(settings, suppression.fingerprint()),
        "built_from": fingerprint,
    }
    appended = standardize_appended(read.frame, raw_validation, config, source, layout)
    if isinstance(appended, tuple):
        standardized, new_rows = appended
    else:
        standardized = standardize_source(
            read.frame,
            source,
            config.defaults.country,
            limits=config.limits,
            validity=config.validity_for(source),
        )
        new_rows = standardized.height
    read.frame.write_parquet(layout.asset_value(f"raw_{name}", ".parquet"))
    standardized.write_parquet(layout.asset_value(f"standardized_{name}", ".parquet"))
    for stage, validation in (
        ("raw", raw_validation),
        ("standardized", {"success": True, "built_from": fingerprint}),
    ):
        path = layout.asset_value(f"{stage}_{name}_validation", ".json")
        path.write_text(json.dumps(validation), encoding="utf-8")
    return read, new_rows


def stored(out: Path, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    layout = OutputLayout(out)
    return tuple(  # type: ignore[return-value]
        pl.read_parquet(layout.asset_value(f"{stage}_{name}", ".parquet")).drop("_loaded_at")
        for stage in ("raw", "standardized")
    )


def assert_same_as_whole(config: SourcesConfig, name: str, out: Path, tmp_path: Path) -> None:
    build(config, name, tmp_path / "whole", incremental=False)
    for got, want in zip(stored(out, name), stored(tmp_path / "whole", name), strict=True):
        assert_frame_equal(got, want)


def hold_back_lines(path: Path, share: float, header: bool) -> bytes:
    """Cut the last `share` of `path`'s lines off; they are returned to be appended later."""
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    keep = len(lines) - max(1, int((len(lines) - header) * share))
    path.write_bytes(b"".join(lines[:keep]))
    return b"".join(lines[keep:])


def with_repeated_id(tail: bytes, path: Path, sep: bytes) -> bytes:
    """`tail` with its first line's record id replaced by the id of the file's last line,
    so a duplicate spans old and new rows."""
    old_last = path.read_bytes().splitlines()[-1]
    first, rest = tail.split(b"\n", 1)
    if sep == b"json":
        record = json.loads(first)
        record["id"] = json.loads(old_last)["id"]
        first = json.dumps(record, ensure_ascii=False).encode()
    else:
        first = sep.join([old_last.split(sep)[0], *first.split(sep)[1:]])
    return first + b"\n" + rest


@pytest.mark.parametrize(
    ("name", "header", "sep"), [("support", True, b","), ("marketing", False, b"json")]
)
def test_appended_lines_are_read_alone_and_equal_a_whole_extraction(
    sample, tmp_path, name, header, sep
):
    config = load_sources(sample)
    path = config.files(config.source(name))[0]
    tail = hold_back_lines(path, 0.1, header)
    out = tmp_path / "out"
    first, _ = build(config, name, out, incremental=False)
    tail = with_repeated_id(tail, path, sep)
    with path.open("ab") as fh:
        fh.write(tail)
    new_lines = tail.count(b"\n")
    read, standardized = build(config, name, out, incremental=True)
    assert (read.appended_rows, read.reread_rows) == (new_lines, 0), read.note
    assert standardized == new_lines
    assert read.frame.height == first.frame.height + new_lines
    assert_same_as_whole(config, name, out, tmp_path)
    std = stored(out, name)[1]
    assert std.filter(pl.col("_reasons").list.join(";").str.contains("duplicate")).height >= 1


def test_a_new_parquet_file_in_a_glob_is_read_alone(sample, tmp_path):
    text = sample.read_text(encoding="utf-8")
    sample.write_text(
        text.replace("path: exports/billing.parquet", "path: exports/billing/*.parquet"),
        encoding="utf-8",
    )
    exports = sample.parent / "exports"
    billing = pl.read_parquet(exports / "billing.parquet")
    (exports / "billing").mkdir()
    half = billing.height // 2
    billing.head(half).write_parquet(exports / "billing" / "2026-11-01.parquet")
    config = load_sources(sample)
    out = tmp_path / "out"
    build(config, "billing", out, incremental=False)
    billing.slice(half).write_parquet(exports / "billing" / "2026-11-02.parquet")
    read, standardized = build(config, "billing", out, incremental=True)
    assert (read.appended_rows, read.reread_rows) == (billing.height - half, 0), read.note
    assert standardized == billing.height - half
    assert_same_as_whole(config, "billing", out, tmp_path)


def replace_in_middle(path: Path) -> None:
    data = path.read_bytes()
    middle = data.index(b"\n", len(data) // 2) + 1
    end = data.index(b"\n", middle)
    path.write_bytes(data[:middle] + data[middle:end].replace(b"a", b"e") + data[end:])


def truncate(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))


def rename_a_column(path: Path) -> None:
    header, rest = path.read_bytes().split(b"\n", 1)
    path.write_bytes(header.replace(b"subject", b"asunto") + b"\n" + rest)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (replace_in_middle, "no longer starts with the content read before"),
        (truncate, "shrank"),
        (rename_a_column, "no longer starts with the content read before"),
    ],
)
def test_a_file_changed_before_its_end_is_read_whole(sample, tmp_path, change, reason):
    config = load_sources(sample)
    path = config.files(config.source("support"))[0]
    tail = hold_back_lines(path, 0.05, header=True)
    out = tmp_path / "out"
    build(config, "support", out, incremental=False)
    change(path)
    with path.open("ab") as fh:
        fh.write(tail)
    read, standardized = build(config, "support", out, incremental=True)
    assert read.appended_rows == 0 and read.reread_rows == read.frame.height
    assert standardized == read.frame.height
    assert reason in read.note
    assert_same_as_whole(config, "support", out, tmp_path)


def test_a_line_left_unfinished_or_a_quote_left_open_is_read_whole(sample, tmp_path):
    config = load_sources(sample)
    path = config.files(config.source("support"))[0]
    out = tmp_path / "out"
    path.write_bytes(path.read_bytes() + b'T-9,"Ana')  # no line break, open quote
    build(config, "support", out, incremental=False)
    with path.open("ab") as fh:
        fh.write(b' Ruiz",x\n')
    read, _ = build(config, "support", out, incremental=True)
    assert read.appended_rows == 0
    assert "did not end at a line break" in read.note
    assert_same_as_whole(config, "support", out, tmp_path)


def test_new_json_values_that_would_retype_a_column_make_the_file_read_whole(sample, tmp_path):
    config = load_sources(sample)
    path = config.files(config.source("marketing"))[0]
    lines = path.read_bytes().splitlines(keepends=True)
    # the first lines hold a number in a column the last line makes text
    numbered = [json.dumps({**json.loads(line), "score": 7}).encode() + b"\n" for line in lines]
    path.write_bytes(b"".join(numbered[:-1]))
    out = tmp_path / "out"
    build(config, "marketing", out, incremental=False)
    last = {**json.loads(lines[-1]), "score": "high"}
    with path.open("ab") as fh:
        fh.write(json.dumps(last).encode() + b"\n")
    read, _ = build(config, "marketing", out, incremental=True)
    assert read.appended_rows == 0 and "column 'score'" in read.note
    assert read.frame.schema["score"] == pl.String
    assert_same_as_whole(config, "marketing", out, tmp_path)


def with_value(lines: list[bytes], column: str, value) -> bytes:
    """JSON lines with `column` set to `value` (left out when it is None)."""
    out = []
    for line in lines:
        record = json.loads(line)
        if value is not None:
            record[column] = value
        out.append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    return b"".join(out)


def test_a_new_json_file_of_another_type_makes_the_source_read_whole(sample, tmp_path):
    """5 and 2.5 stored, "n/a" arriving in a new file: a whole extraction types the column
    from all three files, so the new file cannot be appended."""
    config = load_sources(sample)
    path = config.files(config.source("marketing"))[0]
    lines = path.read_bytes().splitlines(keepends=True)
    folder = path.parent / "marketing"
    folder.mkdir()
    third = len(lines) // 3
    (folder / "a.jsonl").write_bytes(with_value(lines[:third], "score", 5))
    (folder / "b.jsonl").write_bytes(with_value(lines[third : 2 * third], "score", 2.5))
    sample.write_text(
        sample.read_text(encoding="utf-8").replace(
            "path: exports/marketing.jsonl", "path: exports/marketing/*.jsonl"
        ),
        encoding="utf-8",
    )
    config = load_sources(sample)
    out = tmp_path / "out"
    build(config, "marketing", out, incremental=False)
    (folder / "c.jsonl").write_bytes(with_value(lines[2 * third :], "score", "n/a"))
    read, _ = build(config, "marketing", out, incremental=True)
    assert read.appended_rows == 0 and "column 'score'" in read.note
    assert_same_as_whole(config, "marketing", out, tmp_path)


def test_a_column_the_appended_lines_leave_out_still_types_the_next_ones(sample, tmp_path):
    """Numbers, then lines without the key (appended), then booleans: the third part would
    make a whole extraction read the column as text."""
    config = load_sources(sample)
    path = config.files(config.source("marketing"))[0]
    lines = path.read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    path.write_bytes(with_value(lines[:third], "vip", 5))
    out = tmp_path / "out"
    build(config, "marketing", out, incremental=False)
    with path.open("ab") as fh:
        fh.write(with_value(lines[third : 2 * third], "vip", None))
    read, _ = build(config, "marketing", out, incremental=True)
    assert read.appended_rows == 2 * third - third
    with path.open("ab") as fh:
        fh.write(with_value(lines[2 * third :], "vip", True))
    read, _ = build(config, "marketing", out, incremental=True)
    assert read.appended_rows == 0 and "column 'vip'" in read.note
    assert_same_as_whole(config, "marketing", out, tmp_path)


def test_a_changed_suppression_list_or_settings_make_the_source_read_whole(sample, tmp_path):
    config = load_sources(sample)
    path = config.files(config.source("support"))[0]
    tail = hold_back_lines(path, 0.1, header=True)
    out = tmp_path / "out"
    build(config, "support", out, incremental=False)
    with path.open("ab") as fh:
        fh.write(tail)
    # someone in the stored rows is erased: their rows must be emptied, so all is read again
    standardized = OutputLayout(out).asset_value("standardized_support", ".parquet")
    erased_email = pl.read_parquet(standardized)["email"].drop_nulls()[0]
    suppression = SuppressionList.new()
    suppression.add("email", [erased_email], "test")
    read, _ = build(config, "support", out, incremental=True, erased=suppression)
    assert read.appended_rows == 0 and "suppression list changed" in read.note
    assert read.erased >= 1
    assert read.frame.filter(pl.col("_parse_error") == SUPPRESSION_REASON).height == read.erased
    # same list, more lines: appended, and a new row of the erased person is emptied too
    source_line = next(
        line for line in path.read_bytes().splitlines() if erased_email.encode() in line.lower()
    )
    with path.open("ab") as fh:
        fh.write(b"T-NEW-1" + source_line[source_line.index(b",") :] + b"\n")
    read, _ = build(config, "support", out, incremental=True, erased=suppression)
    assert read.appended_rows == 1, read.note
    assert read.frame.tail(1)["_parse_error"].to_list() == [SUPPRESSION_REASON]
    # another suite or setting: whole
    sample.write_text(
        sample.read_text(encoding="utf-8").replace("trust: 4", "trust: 5"), encoding="utf-8"
    )
    config = load_sources(sample)
    with path.open("ab") as fh:
        fh.write(b"T-NEW-2" + source_line[source_line.index(b",") :] + b"\n")
    read, _ = build(config, "support", out, incremental=True, erased=suppression)
    assert read.appended_rows == 0 and "settings" in read.note


def test_a_full_run_reads_every_file(sample, tmp_path):
    config = load_sources(sample)
    path = config.files(config.source("support"))[0]
    tail = hold_back_lines(path, 0.1, header=True)
    out = tmp_path / "out"
    build(config, "support", out, incremental=False)
    with path.open("ab") as fh:
        fh.write(tail)
    read, _ = build(config, "support", out, incremental=False)
    assert read.appended_rows == 0 and read.reread_rows == read.frame.height


def test_appended_dates_without_a_format_are_read_as_in_the_whole_column(sample, tmp_path):
    # Polars infers such a column's format from its first value that has one: "01/02/2020"
    # read alone is a date, after an ISO date and time it is none
    config = load_sources(sample)
    assert config.source("marketing").updated_at.format is None
    path = config.files(config.source("marketing"))[0]
    lines = path.read_bytes().splitlines(keepends=True)
    first = {**json.loads(lines[0]), "updated_at": "2020-01-01 10:00"}
    path.write_bytes(json.dumps(first).encode() + b"\n" + b"".join(lines[1:-1]))
    out = tmp_path / "out"
    build(config, "marketing", out, incremental=False)
    with path.open("ab") as fh:
        fh.write(json.dumps({**json.loads(lines[-1]), "updated_at": "01/02/2020"}).encode())
        fh.write(b"\n")
    read, standardized = build(config, "marketing", out, incremental=True)
    assert (read.appended_rows, standardized) == (1, 1), read.note
    assert stored(out, "marketing")[1]["updated_at"][-1] is None
    assert_same_as_whole(config, "marketing", out, tmp_path)


def test_an_incremental_run_appends_and_says_how_many_rows_it_read(generated, tmp_path):
    """Through the assets: the stored tables equal a full run's, and the run reports the
    rows appended and re-read (asset metadata and log)."""
    from dagster import AssetKey, DagsterInstance

    from pipelines.runner import run_pipeline

    shutil.copytree(generated, tmp_path / "sample")
    sources = next((tmp_path / "sample").glob("*.yaml"))
    path = load_sources(sources).files(load_sources(sources).source("support"))[0]
    tail = hold_back_lines(path, 0.1, header=True)
    out = tmp_path / "out"
    with DagsterInstance.ephemeral() as instance:
        first = run_pipeline(sources, out, instance=instance, log_level="ERROR")
        assert first.success, first.failures
        with path.open("ab") as fh:
            fh.write(tail)
        second = run_pipeline(sources, out, instance=instance, log_level="ERROR", incremental=True)
        assert second.success, second.failures
        assert "raw_support" in second.materialized and "raw_crm" not in second.materialized
        event = instance.get_latest_materialization_event(AssetKey("raw_support"))
        metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        event = instance.get_latest_materialization_event(AssetKey("standardized_support"))
        standardized = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        logs = [e.user_message for e in instance.all_logs(second.run_id)]
    new_lines = tail.count(b"\n")
    assert (metadata["rows_appended"], metadata["rows_reread"]) == (new_lines, 0)
    assert standardized["rows_standardized"] == new_lines
    assert any(f"support: appended {new_lines} row(s)" in m for m in logs)
    whole = tmp_path / "whole"
    with DagsterInstance.ephemeral() as instance:
        assert run_pipeline(sources, whole, instance=instance, log_level="ERROR").success
    for got, want in zip(stored(out, "support"), stored(whole, "support"), strict=True):
        assert_frame_equal(got, want)
    # every input row is linked or quarantined
    summary = second.summary["sources"]["support"]
    quarantined = pl.read_parquet(out / "quarantine.parquet").filter(pl.col("source") == "support")
    linked = pl.read_parquet(out / "customer_xref.parquet").filter(pl.col("source") == "support")
    assert summary["rows_read"] == quarantined.height + linked.height == first_rows(path)


def first_rows(path: Path) -> int:
    """The data rows of a CSV export without quoted line breaks (the generated ones)."""
    return sum(1 for line in path.read_bytes().splitlines()[1:] if line.strip())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda read: read.update(files=[{"path": 1}]),
        lambda read: read["files"][0].update(size=-5),
        lambda read: read["files"][0].update(columns={"x": ["String"]}),
        lambda read: read.update(rows="many"),
    ],
)
def test_a_stored_record_that_is_not_what_extraction_writes_means_reading_whole(
    sample, tmp_path, tamper
):
    config = load_sources(sample)
    path = config.files(config.source("support"))[0]
    tail = hold_back_lines(path, 0.1, header=True)
    out = tmp_path / "out"
    build(config, "support", out, incremental=False)
    validation = OutputLayout(out).asset_value("raw_support_validation", ".json")
    document = json.loads(validation.read_text(encoding="utf-8"))
    tamper(document["read"])
    validation.write_text(json.dumps(document), encoding="utf-8")
    with path.open("ab") as fh:
        fh.write(tail)
    read, _ = build(config, "support", out, incremental=True)
    assert read.appended_rows == 0 and "no record of what was read before" in read.note
    assert_same_as_whole(config, "support", out, tmp_path)


def test_crlf_lines_after_a_byte_order_mark_are_appended_as_a_whole_read_gives_them(
    sample, tmp_path
):
    config = load_sources(sample)
    path = config.files(config.source("support"))[0]
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    tail = hold_back_lines(path, 0.1, header=True)
    out = tmp_path / "out"
    build(config, "support", out, incremental=False)
    with path.open("ab") as fh:
        fh.write(tail)
    read, _ = build(config, "support", out, incremental=True)
    assert read.appended_rows == tail.count(b"\n") and read.reread_rows == 0, read.note
    assert_same_as_whole(config, "support", out, tmp_path)


def test_a_grown_file_that_is_not_read_last_makes_the_source_read_whole(sample, tmp_path):
    text = sample.read_text(encoding="utf-8")
    sample.write_text(
        text.replace("path: exports/support.csv", "path: exports/support/*.csv"),
        encoding="utf-8",
    )
    exports = sample.parent / "exports"
    lines = (exports / "support.csv").read_bytes().splitlines(keepends=True)
    (exports / "support").mkdir()
    third = len(lines) // 3
    (exports / "support" / "a.csv").write_bytes(b"".join(lines[:third]))
    (exports / "support" / "b.csv").write_bytes(lines[0] + b"".join(lines[third : 2 * third]))
    config = load_sources(sample)
    out = tmp_path / "out"
    build(config, "support", out, incremental=False)
    with (exports / "support" / "a.csv").open("ab") as fh:
        fh.write(b"".join(lines[2 * third :]))
    read, _ = build(config, "support", out, incremental=True)
    assert read.appended_rows == 0 and "a.csv grew but is not the last file read" in read.note
    assert_same_as_whole(config, "support", out, tmp_path)
