"""Probabilistic linkage: the model, scored pairs, the review queue, and guarded clusters.

Four WARN checks say whether the linkage is plausible (whiteglove/linkage_health.py holds the
figures and the thresholds, and why each): the share of records linked, the review queue's
share of the plausible pairs, the tail of cluster sizes, and the drift of the match weights
since the previous publication. They never stop a run.
"""

import math
from collections.abc import Iterator

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    MetadataValue,
    Output,
    asset,
    multi_asset,
)

from assets.metadata import table_metadata
from assets.resources import INCREMENTAL_TAG, PreviousPublicationResource, RunSettings
from whiteglove.clustering import cluster_records, link_graph
from whiteglove.decisions import Resolved, constraints, decisions_file, read_decisions, resolve
from whiteglove.evaluation import (
    cluster_metrics,
    load_labels,
    pairwise_scores,
    precision_recall_curve,
)
from whiteglove.incremental import (
    linkage_key,
    linkage_stage_version,
    load_linkage_state,
    save_linkage_state,
)
from whiteglove.linkage import link, linkage_choices, strong_fields
from whiteglove.linkage_health import (
    CLUSTERS_AT_GUARD_MAX,
    LARGE_CLUSTER_SHARE_MAX,
    LINKED_SHARE_BAND,
    LINKED_SHARE_MAX_DROP,
    MATCH_WEIGHT_PSI_MAX,
    REVIEW_SHARE_MAX,
    Health,
    judge_cluster_tail,
    judge_linked_share,
    judge_match_weight_drift,
    judge_review_share,
    linked_share,
)
from whiteglove.review import review_queue

REVIEW_SHARE_CHECK = AssetCheckSpec(
    "review_queue_share",
    asset="review_queue",
    description=(
        f"[WARN] at most {REVIEW_SHARE_MAX:.0%} of the plausible pairs (at or above the review "
        "threshold) wait for a steward; more means the model separates matches poorly"
    ),
)
MATCH_WEIGHT_DRIFT_CHECK = AssetCheckSpec(
    "match_weight_drift",
    asset="match_pairs",
    description=(
        "[WARN] the match weights are distributed as in the previous publication: population "
        f"stability index at most {MATCH_WEIGHT_PSI_MAX:g} over the previous run's deciles "
        "(passes on a first run)"
    ),
)
LINKED_SHARE_CHECK = AssetCheckSpec(
    "linked_records_share",
    asset="clusters",
    description=(
        f"[WARN] between {LINKED_SHARE_BAND[0]:.0%} and {LINKED_SHARE_BAND[1]:.0%} of records "
        f"are linked to another record, at most {LINKED_SHARE_MAX_DROP * 100:g} percentage "
        "points fewer than in the previous publication"
    ),
)
CLUSTER_TAIL_CHECK = AssetCheckSpec(
    "cluster_size_tail",
    asset="clusters",
    description=(
        f"[WARN] at most {CLUSTERS_AT_GUARD_MAX} cluster(s) reach linkage.max_cluster_size, and "
        f"at most {LARGE_CLUSTER_SHARE_MAX:.0%} of records sit in clusters of half that size "
        "or more"
    ),
)


@multi_asset(
    group_name="link",
    outs={
        "linkage_model": AssetOut(
            code_version=linkage_stage_version(),
            kinds={"splink", "json"},
            description=(
                "The Splink model that scored this run's pairs: trained on the run's records "
                "(u by random sampling, m by EM on email and phone blocks, term-frequency "
                "adjustments on names and city), or loaded from linkage.model."
            ),
        ),
        "match_pairs": AssetOut(
            code_version=linkage_stage_version(),
            kinds={"splink", "duckdb"},
            description=(
                "Candidate pairs of customer records with match_probability and match_weight; "
                "pairs below linkage.keep_pairs_above are not kept."
            ),
        ),
        "compared_records": AssetOut(
            code_version=linkage_stage_version(),
            kinds={"polars"},
            description=(
                "Every record as the model compared it: names folded, e-mail split, block keys "
                "of the rules kept for rare values. match_records adds each one's golden id."
            ),
        ),
        "review_queue": AssetOut(
            code_version=linkage_stage_version(),
            kinds={"polars"},
            description=(
                "Pairs between the review and match thresholds, both records side by side with "
                "the comparisons that weighed most, for a data steward."
            ),
        ),
        "linkage_choices": AssetOut(
            code_version=linkage_stage_version(),
            kinds={"json"},
            description=(
                "What this run chose from what its model estimates, and why: the match "
                "threshold (linkage.match_threshold, or the best F1 the model estimates over "
                "the scored pairs), the estimated precision and recall at each threshold, and "
                "the fields whose two values in one cluster mean two people."
            ),
        ),
    },
    check_specs=[MATCH_WEIGHT_DRIFT_CHECK, REVIEW_SHARE_CHECK],
)
def linkage(
    context: AssetExecutionContext,
    settings: RunSettings,
    previous_publication: PreviousPublicationResource,
    customer_records: pl.DataFrame,
):
    sources = settings.config
    config = sources.linkage
    saved = sources.resolve(config.model) if config.model else None
    layout, key = settings.layout, linkage_key(config)
    previous = None
    if context.run.tags.get(INCREMENTAL_TAG) == "true":
        previous = load_linkage_state(layout, key)
        if previous is None:
            context.log.info("incremental run without a usable previous linkage: full linkage")
    result = link(customer_records, config, saved, previous)
    save_linkage_state(layout, result, key)
    context.log.info(
        f"linkage {result.mode}: pairs scored for {result.records_rescored:,} of "
        f"{result.records.height:,} records"
    )
    for rule, n in result.comparisons_per_rule.items():
        context.log.info(f"blocking rule {rule}: at most {n:,} comparisons")
    for rule, n in result.left_out_rules.items():
        context.log.warning(f"derived blocking rule {rule} left out: {n:,} comparisons")
    yield Output(
        result.model_json,
        output_name="linkage_model",
        metadata={
            "origin": {
                "trained": "trained on this run",
                "loaded": f"loaded from {saved}",
                "incremental": "kept from the previous run (incremental)",
            }[result.mode],
            "comparisons": MetadataValue.json(
                [c["output_column_name"] for c in result.model_json["comparisons"]]
            ),
            "probability_two_random_records_match": float(
                result.model_json["probability_two_random_records_match"]
            ),
        },
    )
    matched = result.pairs.filter(pl.col("match_probability") >= result.threshold.value).height
    yield Output(
        result.pairs,
        output_name="match_pairs",
        metadata=table_metadata(
            result.pairs,
            reveal_personal_data=settings.reveal_personal_data,
            comparisons_per_blocking_rule=MetadataValue.json(result.comparisons_per_rule),
            blocking_rules_left_out=MetadataValue.json(result.left_out_rules),
            mode=result.mode,
            records_rescored=result.records_rescored,
            pairs_at_or_above_match_threshold=matched,
        ),
    )
    # no preview: every column is a person's data in another form
    yield Output(
        result.compared,
        output_name="compared_records",
        metadata={"dagster/row_count": result.compared.height},
    )
    queue = review_queue(result.review, customer_records, list(config.match_fields))
    yield Output(
        queue,
        output_name="review_queue",
        metadata=table_metadata(queue, reveal_personal_data=settings.reveal_personal_data),
    )
    choices = linkage_choices(
        result.pairs["match_probability"],
        result.model_json,
        result.threshold,
        config,
        result.blocking_rules,
        result.capped_rules,
    )
    threshold = choices["match_threshold"]
    context.log.info(
        f"match threshold {threshold['value']:g} ({threshold['why']}); the model estimates "
        f"precision {threshold['estimated']['precision']:.4f}, recall "
        f"{threshold['estimated']['recall']:.4f} there"
    )
    yield Output(
        choices,
        output_name="linkage_choices",
        metadata={
            "match_threshold": threshold["value"],
            "chosen_by": threshold["chosen_by"],
            "why": threshold["why"],
            "estimated_precision": threshold["estimated"]["precision"],
            "estimated_recall": threshold["estimated"]["recall"],
            "strong_identifiers": MetadataValue.json(list(strong_fields(choices))),
        },
    )
    previous_weights = _previous_column(previous_publication, "match_pairs", "match_weight")
    yield health_result(
        MATCH_WEIGHT_DRIFT_CHECK,
        judge_match_weight_drift(result.pairs["match_weight"], previous_weights),
    )
    yield health_result(REVIEW_SHARE_CHECK, judge_review_share(queue.height, matched))


@asset(
    group_name="link",
    kinds={"csv"},
    description=(
        "The steward decisions file (linkage.decisions, else decisions.csv beside the sources "
        "file) resolved against this run's records: the decisions that apply, and each one "
        "that does not (a record gone, or contradicted by a later decision) with why."
    ),
)
def steward_decisions(
    context: AssetExecutionContext, settings: RunSettings, customer_records: pl.DataFrame
) -> Output[dict]:
    sources = settings.config
    path = decisions_file(sources.base_dir, sources.linkage.decisions).resolve()
    resolved = resolve(read_decisions(path), customer_records["record_key"], str(path))
    for entry in resolved.not_applied:
        context.log.warning(
            f"steward decision not applied: {entry['decision']['text']}: {entry['why']}"
        )
    return Output(
        resolved.as_dict(),
        metadata={
            "file": str(path),
            "exists": path.exists(),
            "applied": len(resolved.applied),
            "not_applied": len(resolved.not_applied),
        },
    )


@asset(
    group_name="link",
    kinds={"scipy", "polars"},
    check_specs=[LINKED_SHARE_CHECK, CLUSTER_TAIL_CHECK],
    description=(
        "Each customer record's cluster: connected components of pairs at or above the match "
        "threshold (linkage_choices), with steward decisions applied. A cluster larger than "
        "linkage.max_cluster_size, holding two values of a strong identifier (a birth date, "
        "phone or national id, when the model finds true matches almost never disagree on it; "
        "see linkage_choices) or two records "
        "of a linkage.one_record_per_customer source is rebuilt from its links, strongest "
        "first, skipping each link that would make it implausible."
    ),
)
def clusters(
    context: AssetExecutionContext,
    settings: RunSettings,
    previous_publication: PreviousPublicationResource,
    customer_records: pl.DataFrame,
    match_pairs: pl.DataFrame,
    linkage_choices: dict,
    steward_decisions: dict,
) -> Iterator[Output[pl.DataFrame] | AssetCheckResult]:
    sources = settings.config
    config = sources.linkage
    applied = Resolved.from_dict(steward_decisions).applied
    decisions = constraints(applied) if applied else None
    strong = strong_fields(linkage_choices)
    result = cluster_records(
        customer_records,
        match_pairs,
        linkage_choices["match_threshold"]["value"],
        config.max_cluster_size,
        decisions=decisions,
        strong=strong,
        one_per_customer=tuple(config.one_record_per_customer),
    )
    if result.still_implausible:
        context.log.warning(
            f"{len(result.still_implausible)} cluster(s) still implausible after splitting "
            f"(sizes {result.still_implausible[:10]}); they are published as they are"
        )
    sizes = result.size_figures()
    yield Output(
        result.clusters,
        metadata=table_metadata(
            result.clusters,
            reveal_personal_data=settings.reveal_personal_data,
            cluster_count=sizes["customers"],
            largest_cluster=sizes["largest"],
            clusters_split=result.split,
            clusters_still_implausible=len(result.still_implausible),
            strong_identifiers=MetadataValue.json(list(strong)),
            steward_links_forced=result.forced,
            steward_links_forbidden=result.forbidden,
            steward_decisions_applied=len(applied),
            cluster_size_distribution=MetadataValue.json(sizes["distribution"]),
        ),
    )
    previous_ids = _previous_column(previous_publication, "customer_xref", "golden_id")
    previous_share = (
        None if previous_ids is None else linked_share(previous_ids.to_frame(), "golden_id")
    )
    yield health_result(
        LINKED_SHARE_CHECK,
        judge_linked_share(linked_share(result.clusters, "cluster_id"), previous_share),
    )
    yield health_result(
        CLUSTER_TAIL_CHECK,
        judge_cluster_tail(result.clusters, "cluster_id", config.max_cluster_size),
    )


def health_result(spec: AssetCheckSpec, health: Health) -> AssetCheckResult:
    """A linkage figure as a WARN check result: never blocking; the figure, its threshold and
    the other figures it was judged with as metadata."""
    observed = health.observed if math.isfinite(health.observed) else str(health.observed)
    return AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=health.passed,
        severity=AssetCheckSeverity.WARN,
        description=health.text,
        metadata={"observed": observed, "threshold": health.threshold, **health.figures},
    )


def _previous_column(
    previous_publication: PreviousPublicationResource, table: str, column: str
) -> pl.Series | None:
    """One column of a table of the previous publication (None: none published, or a
    publication without it); one column only, since match_pairs may hold millions of rows."""
    path = previous_publication.pinned.path(f"{table}.parquet")
    if path is None or column not in pl.read_parquet_schema(path):
        return None
    return pl.read_parquet(path, columns=[column]).get_column(column)


# Thresholds of the precision-recall curve; each is a full clustering of the run's pairs.
CURVE_THRESHOLDS = (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@asset(
    group_name="link",
    kinds={"polars"},
    description=(
        "Accuracy against known truth, when linkage.labels names it: pairwise precision, "
        "recall and F1 of the clusters, cluster metrics, and a precision-recall curve over "
        "match thresholds. Without labels it records that none were given."
    ),
)
def linkage_accuracy(
    context: AssetExecutionContext,
    settings: RunSettings,
    customer_records: pl.DataFrame,
    match_pairs: pl.DataFrame,
    clusters: pl.DataFrame,
    linkage_choices: dict,
) -> Output[dict]:
    sources = settings.config
    config = sources.linkage
    if config.labels is None:
        return Output({"labels": None}, metadata={"labels": "none given"})
    file = sources.resolve(config.labels.file) if config.labels.file else None
    truth = load_labels(customer_records, config.labels.entity, file)
    scores = pairwise_scores(clusters.rename({"cluster_id": "cluster"}), truth)
    graph = link_graph(
        customer_records,
        match_pairs,
        config.max_cluster_size,
        strong=strong_fields(linkage_choices),
        one_per_customer=tuple(config.one_record_per_customer),
    )
    curve = precision_recall_curve(graph, truth, CURVE_THRESHOLDS)
    accuracy = {
        "labels": str(file) if file else f"attribute {config.labels.entity}",
        "threshold": linkage_choices["match_threshold"]["value"],
        **scores.as_dict(),
        **cluster_metrics(clusters.rename({"cluster_id": "cluster"}), truth),
        "curve": curve,
    }
    context.log.info(
        f"pairwise precision {scores.precision:.4f}, recall {scores.recall:.4f}, F1 {scores.f1:.4f}"
    )
    return Output(
        accuracy,
        metadata={
            "precision": scores.precision,
            "recall": scores.recall,
            "f1": scores.f1,
            "labelled_records": scores.records,
            "rebuilt_exactly_share": accuracy["rebuilt_exactly_share"],
        },
    )
