"""Names and paths from sources.yaml are data, never code, and a run writes only into --out.

Column and source names reach Polars expressions, Great Expectations suites, Splink blocking
rules, DuckDB tables and the HTML people read (the reports and GX Data Docs). A hostile name
or value is either read as the name it is or refused; it is never executed. Paths in the
sources file are read-only inputs: the only folder a run writes is the output folder, and
one that holds someone else's files is refused.
"""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from dagster import DagsterInstance

from assets.publish import TOOL_TABLES
from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.config import LinkageConfig, SourcesConfigError, load_sources
from whiteglove.extract import extract_source
from whiteglove.layout import PROJECT_ROOT
from whiteglove.linkage import LinkageError, link
from whiteglove.publish import OutputFolderError, publish
from whiteglove.quarantine import accepted
from whiteglove.standardize import standardize_source

DROP_TABLE = 'x"; DROP TABLE t; --'
QUOTE = "it's"
CLOSE_PAREN = "a'); DROP TABLE golden_customers; --"
# What a browser would run or render as markup if a page put text into HTML as it is.
SCRIPT = '<script>alert("wg-script")</script>'
IMG = '"><img src=x onerror=alert("wg-img")>'
STYLE = '</style><b id="wg-style">style</b>'
MARKUP = SCRIPT + IMG + STYLE


def rename_crm_columns(root: Path, renames: dict[str, str]) -> None:
    """Rename columns of the sample's crm.csv and its mapping in sources.yaml."""
    crm = root / "exports" / "crm.csv"
    rows = list(csv.reader(io.StringIO(crm.read_text(encoding="utf-8")), delimiter=";"))
    rows[0] = [renames.get(c, c) for c in rows[0]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerows(rows)
    crm.write_text(buffer.getvalue(), encoding="utf-8")
    sources = root / "sources.yaml"
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    spec = next(s for s in config["sources"] if s["name"] == "crm")
    spec["id"] = renames.get(spec["id"], spec["id"])
    for section in ("fields", "attributes"):
        for key, value in spec[section].items():
            if isinstance(value, str) and value in renames:
                spec[section][key] = renames[value]
            elif isinstance(value, dict) and value.get("column") in renames:
                value["column"] = renames[value["column"]]
    # crm gets the default suite, derived from the mapping: GX sees the hostile names too
    suites = root / "suites"
    shutil.copytree(Path(config["expectations"]), suites)
    (suites / "crm.json").unlink()
    # and a suite author's descriptions hold markup (support's check of ticket statuses)
    support = json.loads((suites / "support.json").read_text(encoding="utf-8"))
    for expectation in support["expectations"]:
        if expectation["kwargs"].get("column") == "ticket_status":
            expectation["description"] = MARKUP
            expectation.setdefault("meta", {})["description"] = MARKUP
    (suites / "support.json").write_text(json.dumps(support), encoding="utf-8")
    config["expectations"] = str(suites)
    sources.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))


def put_markup_in_values(root: Path) -> None:
    """Customer names in crm, and ticket statuses (a checked column whose offending values the
    bundled suite shows in Data Docs) in support, that are markup."""
    crm = pl.read_csv(root / "exports" / "crm.csv", separator=";", infer_schema=False)
    names = [SCRIPT, IMG, STYLE]
    crm = crm.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.Series(names + [""] * (crm.height - 3)))
        .otherwise(pl.col("Nombre"))
        .alias("Nombre")
    )
    crm.write_csv(root / "exports" / "crm.csv", separator=";")
    support = pl.read_csv(root / "exports" / "support.csv", infer_schema=False)
    support = support.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.Series(names + [""] * (support.height - 3)))
        .otherwise(pl.col("status"))
        .alias("status")
    )
    support.write_csv(root / "exports" / "support.csv")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("injection")
    sources = make_sample(root, people=100, seed=17)
    put_markup_in_values(root)
    rename_crm_columns(
        root,
        {
            "Email": DROP_TABLE,
            "Ciudad": QUOTE,
            "FechaAlta": CLOSE_PAREN,
            # the id column is named in the raw-stage checks of crm's (default) suite
            "IdCliente": f"Id{MARKUP}",
        },
    )
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, root / "out", instance=instance, log_level="ERROR")
    assert outcome.success, outcome.failures
    return root


def test_hostile_column_names_are_read_as_names(hostile_run):
    text = (hostile_run / "exports" / "crm.csv").read_text(encoding="utf-8")
    exported = {row[DROP_TABLE] for row in csv.DictReader(io.StringIO(text), delimiter=";")}
    lineage = pl.read_parquet(hostile_run / "out" / "golden_lineage.parquet").filter(
        pl.col("source") == "crm"
    )
    emails = set(lineage.filter(pl.col("field") == "email")["value"])
    assert emails and emails <= {e.strip().lower() for e in exported if e}
    assert set(lineage.filter(pl.col("field") == "city")["value"])  # the it's column
    golden = pl.read_parquet(hostile_run / "out" / "golden_customers.parquet")
    assert golden["signup_date"].drop_nulls().len() > 0  # the a'); DROP ... column


def test_the_duckdb_file_holds_every_table_and_nothing_else(hostile_run):
    out = hostile_run / "out"
    con = duckdb.connect(str(out / "customers.duckdb"), read_only=True)
    try:
        names = {
            r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()
        }
        for table in names:
            count = con.execute(f'select count(*) from "{table}"').fetchall()[0][0]
            assert count == pl.read_parquet(out / f"{table}.parquet").height, table
    finally:
        con.close()
    # exactly the published tables for SQL readers: no statement in a name created or
    # dropped one (the tools' tables are Parquet only)
    assert names == {p.stem for p in out.glob("*.parquet")} - TOOL_TABLES


def test_a_source_name_that_tries_injection_is_refused(tmp_path):
    config = {
        "sources": [
            {
                "name": 'crm"; DROP TABLE golden_customers; --',
                "path": "crm.csv",
                "format": "csv",
                "id": "id",
                "trust": 1,
                "fields": {"email": "email"},
            }
        ]
    }
    (tmp_path / "crm.csv").write_text("id,email\n1,a@example.com\n")
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SourcesConfigError) as info:
        load_sources(tmp_path / "sources.yaml")
    assert any("must match [a-z][a-z0-9_]*" in p for p in info.value.problems)


def test_an_attribute_name_that_tries_injection_is_refused(tmp_path):
    config = {
        "sources": [
            {
                "name": "crm",
                "path": "crm.csv",
                "format": "csv",
                "id": "id",
                "trust": 1,
                "fields": {"email": "email"},
                "attributes": {'note"; DROP TABLE t; --': "email"},
            }
        ]
    }
    (tmp_path / "crm.csv").write_text("id,email\n1,a@example.com\n")
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SourcesConfigError, match="must match"):
        load_sources(tmp_path / "sources.yaml")


def test_a_blocking_rule_that_tries_injection_is_refused_before_any_sql(tmp_path):
    sources = make_sample(tmp_path, people=40, seed=3)
    config = load_sources(sources)
    crm = config.source("crm")
    records = accepted([standardize_source(extract_source(crm, config.files(crm)), crm, "ES")])
    hostile = LinkageConfig(blocking=[['email" is not null; DROP TABLE match_input; --']])
    with pytest.raises(LinkageError, match="unknown columns"):
        link(records, hostile)


def test_publish_quotes_paths_and_refuses_odd_table_names(tmp_path):
    out = tmp_path / 'it\'s "quoted"; drop table x; --'
    frame = pl.DataFrame({"a": [1, 2]})
    publish(out, "run1", tables={"golden_customers": frame}, documents={})
    con = duckdb.connect(str(out / "customers.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from golden_customers").fetchall()[0][0] == 2
    finally:
        con.close()
    with pytest.raises(ValueError, match="must match"):
        publish(out, "run2", tables={'t"; drop table x; --': frame}, documents={})
    with pytest.raises(ValueError, match="plain file name"):
        publish(out, "../../escape", tables={"golden_customers": frame}, documents={})
    with pytest.raises(ValueError, match="plain file name"):
        publish(out, "run3", tables={}, documents={"../outside.json": {}})
    assert not (tmp_path / "outside.json").exists()


def tree(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file and link under `root` (outside `skip`) with its size and modification time."""
    found = {}
    for path in root.rglob("*"):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        stat = path.lstat()
        # a folder's time changes when a temporary file comes and goes: only its files count
        is_dir = path.is_dir() and not path.is_symlink()
        found[str(path.relative_to(root))] = (0, 0) if is_dir else (stat.st_size, stat.st_mtime_ns)
    return found


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # ephemeral instance
    env["TMPDIR"] = str(tmp)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def test_a_run_writes_nothing_outside_its_output_folder(tmp_path):
    """Exports, suites, the sources file, the working directory and TMPDIR are untouched."""
    sources = make_sample(tmp_path, people=60, seed=23)
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    shutil.copytree(PROJECT_ROOT / "expectations", tmp_path / "suites")
    config["expectations"] = "suites"
    # an export named through a path that climbs out and back in: read, never written
    crm = next(s for s in config["sources"] if s["name"] == "crm")
    crm["path"] = f"../{tmp_path.name}/exports/crm.csv"
    sources.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    (tmp_path / "cwd").mkdir()
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "out"
    before = tree(tmp_path)

    result = cli(
        ["run", "--quiet", "--sources", str(sources), "--out", str(out)],
        cwd=tmp_path / "cwd",
        env=clean_env(tmp_path / "tmp"),
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert tree(tmp_path, skip=out) == before
    assert (out / "golden_customers.parquet").exists()


def test_an_output_folder_holding_other_files_is_refused_untouched(tmp_path):
    sources = make_sample(tmp_path, people=30, seed=29)
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "golden_customers.parquet").write_text("my own file, not whiteglove's")
    (mine / "notes.txt").write_text("keep me")
    before = tree(mine)

    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, mine, instance=instance, log_level="ERROR")

    assert not outcome.success
    assert "holds files whiteglove did not write" in outcome.failures[0]
    assert "golden_customers.parquet" in outcome.failures[0]
    assert tree(mine) == before  # not even a lock file or a work folder


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    sources = make_sample(tmp_path, people=30, seed=31)
    target = tmp_path / "out.txt"
    target.write_text("a file")
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, target, instance=instance, log_level="ERROR")
    assert not outcome.success and "is a file, not a folder" in outcome.failures[0]
    assert target.read_text() == "a file"


def test_publish_refuses_a_foreign_folder_even_when_called_directly(tmp_path):
    (tmp_path / "report.xlsx").write_text("someone's spreadsheet")
    with pytest.raises(OutputFolderError, match="report.xlsx"):
        publish(
            tmp_path, "run1", tables={"golden_customers": pl.DataFrame({"a": [1]})}, documents={}
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


class _Elements(HTMLParser):
    """Every element of a page, as (tag, attributes), and the text of its scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_markup_in_names_and_values_is_shown_as_text_in_every_published_page(hostile_run):
    reports = hostile_run / "out" / "reports"
    pages = sorted(reports.rglob("*.html"))
    docs = [p for p in pages if "data_docs" in p.parts]
    assert {"data_quality.html", "linkage.html"} <= {p.name for p in pages} and docs
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for markup in (SCRIPT, IMG, STYLE):
            assert markup not in text, page
        parsed = _Elements()
        parsed.feed(text)
        where = page.relative_to(reports)
        assert not [a for t, a in parsed.elements if t == "img" and a.get("src") == "x"], where
        assert not [a for t, a in parsed.elements if a.get("id") == "wg-style"], where
        assert not [s for s in parsed.scripts if "wg-" in s], where
    # the markup did reach Data Docs (the id column's checks, support's statuses), as text
    shown = "".join(p.read_text(encoding="utf-8") for p in docs)
    assert "wg-script" in shown and "wg-img" in shown and "wg-style" in shown


def test_no_published_page_runs_markup_from_the_data_in_a_browser(hostile_run, tmp_path):
    from tests.browser import chromium

    reports = hostile_run / "out" / "reports"
    dialogs: list[str] = []
    with chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for path in sorted(reports.rglob("*.html")):
            page.goto(path.as_uri(), wait_until="domcontentloaded")
            injected = page.evaluate(
                "document.querySelectorAll('img[src=\"x\"], #wg-style').length"
            )
            assert injected == 0, path
    assert dialogs == []
