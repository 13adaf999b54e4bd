"""The code location loads, and its graph follows the sources file."""

import importlib

from dagster import AssetKey, Definitions

from pipelines.build import BUILD_JOB, build_definitions
from whiteglove.config import load_sources
from whiteglove.layout import BUNDLED_SOURCES

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
