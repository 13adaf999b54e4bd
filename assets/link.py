"""Probabilistic linkage: scored candidate pairs and the clusters they form."""

import json

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from assets.metadata import table_metadata
from pipelines.resources import WhiteGloveSettings
from whiteglove.linkage import cluster, link


@asset(
    group_name="link",
    kinds={"splink", "duckdb"},
    description=(
        "Candidate pairs of customer records scored by a Splink model trained on this run "
        "(u by random sampling, m by EM, term-frequency adjustments on names and city). "
        "Pairs below linkage.keep_pairs_above are not kept."
    ),
)
def match_pairs(
    context: AssetExecutionContext, settings: WhiteGloveSettings, customer_records: pl.DataFrame
) -> Output[pl.DataFrame]:
    config = settings.sources().linkage
    result = link(customer_records, config)
    model_path = settings.output / ".work" / "model.json"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_text(json.dumps(result.model_json, indent=2))
    for rule, n in result.comparisons_per_rule.items():
        context.log.info(f"blocking rule {rule}: at most {n:,} comparisons")
    return Output(
        result.pairs,
        metadata=table_metadata(
            result.pairs,
            comparisons_per_blocking_rule=MetadataValue.json(result.comparisons_per_rule),
            pairs_at_or_above_match_threshold=result.pairs.filter(
                pl.col("match_probability") >= config.match_threshold
            ).height,
            model=MetadataValue.path(str(model_path)),
        ),
    )


@asset(
    group_name="link",
    kinds={"splink", "duckdb"},
    description="Each customer record's cluster: records linked at or above the match threshold.",
)
def clusters(
    settings: WhiteGloveSettings, customer_records: pl.DataFrame, match_pairs: pl.DataFrame
) -> Output[pl.DataFrame]:
    config = settings.sources().linkage
    frame = cluster(customer_records, match_pairs, config.match_threshold)
    sizes = frame.group_by("cluster_id").len()
    distribution = sizes.group_by("len").len(name="clusters").sort("len")
    return Output(
        frame,
        metadata=table_metadata(
            frame,
            cluster_count=sizes.height,
            largest_cluster=int(sizes["len"].max() or 0),
            cluster_size_distribution=MetadataValue.json(
                {str(k): v for k, v in distribution.iter_rows()}
            ),
        ),
    )
