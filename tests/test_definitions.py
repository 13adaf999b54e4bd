"""The code location loads, and its graph follows the sources file."""

import importlib
from pathlib import Path

from dagster import AssetKey, Definitions

from pipelines.build import BUILD_JOB, build_definitions
from whiteglove.config import load_sources
from whiteglove.layout import BUNDLED_SOURCES
from whiteglove.validation import CHECK_NAME

STAGES = [
    "customer_records",
    "quarantine",
    "match_pairs",
    "clusters",
    "customer_xref",
    "golden_customers",
    "golden_lineage",
    "published_outputs",
]


def test_code_location_loads_the_bundled_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("WHITEGLOVE_OUT", str(tmp_path / "out"))
    module = importlib.import_module("pipelines.definitions")
    defs = importlib.reload(module).defs
    Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    names = [s.name for s in load_sources(BUNDLED_SOURCES).sources]
    assert {f"raw_{n}" for n in names} | {f"standardized_{n}" for n in names} <= keys
    assert set(STAGES) <= keys
    assert defs.resolve_job_def(BUILD_JOB) is not None


def test_every_asset_is_described_grouped_and_kinded(tmp_path):
    defs = build_definitions(BUNDLED_SOURCES, tmp_path)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.group_name in {
            "extract",
            "standardize",
            "link",
            "golden",
            "report",
            "publish",
        }, key
        assert node.kinds, key
    upstream = graph.get(AssetKey("published_outputs")).parent_keys
    assert AssetKey("golden_customers") in upstream


def test_a_run_reads_the_sources_file_a_fixed_few_times_not_once_per_step(tmp_path, monkeypatch):
    """Read twice: to refuse a bad file before locking (and build the graph), and when the run
    starts (the settings its steps share). Not again by each of the ~25 steps (a 10 MB
    sources file cost minutes that way), nor by each of the four times Dagster rebuilds the
    job; and a file edited during the run is not seen by its later steps."""
    from dagster import DagsterInstance

    import whiteglove.config
    from pipelines.runner import run_pipeline
    from tests.conftest import make_sample

    sources = make_sample(tmp_path, people=40, seed=53)
    reads = []
    real = whiteglove.config.read_document

    def counting(path, *args, **kwargs):
        if Path(path) == sources:
            reads.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(whiteglove.config, "read_document", counting)
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, tmp_path / "out", instance=instance, log_level="ERROR")
    assert outcome.success, outcome.failures
    assert len(reads) == 2, len(reads)
    assert len(outcome.materialized) > 20  # many steps, few reads


def test_checks_have_short_distinct_names_and_the_link_stage_is_checked(tmp_path):
    """Check names read whole in the UI (it cuts long ones in the middle), one per asset."""
    defs = build_definitions(BUNDLED_SOURCES, tmp_path)
    keys = list(defs.resolve_asset_graph().asset_check_keys)
    checks = {(k.asset_key.to_user_string(), k.name) for k in keys}
    assert len(checks) == len(keys)
    assert all(CHECK_NAME.fullmatch(name) and len(name) <= 40 for _, name in checks)
    assert {
        ("match_pairs", "match_weight_drift"),
        ("review_queue", "review_queue_share"),
        ("clusters", "linked_records_share"),
        ("clusters", "cluster_size_tail"),
        ("raw_billing", "account_id_not_null"),
        ("raw_billing", "email_facturacion_matches_pattern"),
        ("golden_customers", "row_count_in_range"),
    } <= checks
