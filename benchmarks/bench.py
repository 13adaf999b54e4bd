"""`make bench`: whiteglove's wall time, memory and accuracy against a plain Splink script.

    python benchmarks/bench.py [--sizes 100000 1000000] [--repeat 1] [--results RESULTS.md]

For each size (source records in total) the harness generates exports with the project's
generator (timed apart), then runs, each in a fresh process so nothing is cached or imported
ahead: the whole pipeline (exports -> published golden table) and `plain_splink.py` (train,
predict, cluster on the same exports). Absolute times drift on a shared machine; the ratio of
the two, measured minutes apart in the same run, holds. Both are scored against the
generator's truth with the same function, outside the timed runs.

Writes `benchmarks/out/<timestamp>.json`, prints markdown tables and, with --results,
replaces the generated part of RESULTS.md. A failed or timed-out run is recorded with what it
got (step times so far, its error) and the benchmark goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import delta_data  # noqa: E402

BENCH_DIR = ROOT / "benchmarks"
DEFAULT_SIZES = (100_000, 1_000_000)
DEFAULT_SEED = 20261123  # not the bundled sample's seed: the model was never tuned on it
DEFAULT_TIMEOUT = 900.0  # seconds per measured run; a run past it is stopped and reported
# The generator writes about 2.84 records per person (35,500 people -> 100,915 records).
RECORDS_PER_PERSON = 2.84
SCHEMA_VERSION = 1
RESULTS_BEGIN = "<!-- bench:begin (written by benchmarks/bench.py; edit outside the markers) -->"
RESULTS_END = "<!-- bench:end -->"
PACKAGES = ("polars", "duckdb", "splink", "dagster", "pyarrow", "great_expectations")
POLL_SECONDS = 0.2
GIB = 1024**3

# Dagster's debug line for a finished step: ... - STEP_SUCCESS - Finished execution of step
# "linkage" in 1m3s. (format_duration: 8.3ms, 533ms, 2.1s, 4m52s, 1h4m)
STEP_START = re.compile(r' - STEP_START - Started execution of step "([^"]+)"')
STEP_DONE = re.compile(r' - STEP_SUCCESS - Finished execution of step "([^"]+)" in (\S+)\.$')
PHASE_LINE = re.compile(r"^phase: (\w+)$")


# ----------------------------------------------------------------------------- measurement
@dataclass
class Measurement:
    """One run of one command in its own process."""

    ok: bool
    returncode: int | None
    wall_seconds: float
    peak_rss_bytes: int  # the child's maximum resident set size, from wait4
    # user + system CPU time: unlike wall time, barely moved by other work on the machine
    cpu_seconds: float
    timed_out: bool = False
    error: str | None = None
    # per step (pipeline) or phase (plain Splink): seconds, and the largest RSS sampled in it
    step_seconds: dict[str, float] = field(default_factory=dict)
    step_peak_rss_bytes: dict[str, int] = field(default_factory=dict)
    running_step: str | None = None  # the step a stopped run was in
    running_step_seconds: float | None = None  # and how long it had been running
    stdout: str = ""


def parse_duration(text: str) -> float:
    """Seconds from Dagster's format_duration text ('533ms', '2.1s', '4m52s', '1h4m')."""
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    seconds = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)([hms])", text):
        seconds += float(number) * {"h": 3600, "m": 60, "s": 1}[unit]
    return seconds


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants now (0 once it is gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                    stack.extend(int(p) for p in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


class _StepTracker:
    """Follows a child's log as it grows: which step runs now, and each finished step's time."""

    def __init__(self, path: Path, pipeline: bool) -> None:
        self.path = path
        self.pipeline = pipeline
        self.offset = 0
        self.partial = b""
        self.current: str | None = None
        self.phase_started = 0.0
        self.seconds: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}
        self.error_lines: list[str] = []

    def poll(self, rss: int) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            chunk = b""
        self.offset += len(chunk)
        data = self.partial + chunk
        *lines, self.partial = data.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").rstrip())
        if self.current is not None:
            self.peak_rss[self.current] = max(self.peak_rss.get(self.current, 0), rss)

    def _line(self, line: str) -> None:
        if self.pipeline:
            if started := STEP_START.search(line):
                self.current, self.phase_started = started.group(1), time.perf_counter()
            elif done := STEP_DONE.search(line):
                self.seconds[done.group(1)] = round(parse_duration(done.group(2)), 3)
                self.current = None
        elif phase := PHASE_LINE.match(line):
            now = time.perf_counter()
            if self.current is not None:
                self.seconds[self.current] = round(now - self.phase_started, 3)
            self.current, self.phase_started = phase.group(1), now


def without_labels(sources: Path) -> Path:
    """The sources file without `linkage.labels`: exports of real systems come without their
    truth, so the timed run does not score itself (this harness scores it afterwards)."""
    config = yaml.safe_load(sources.read_text(encoding="utf-8"))
    if (config.get("linkage") or {}).pop("labels", None) is not None:
        sources.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return sources


def run_measured(
    cmd: Sequence[str], log: Path, *, timeout: float, pipeline: bool, env: dict[str, str]
) -> Measurement:
    """Run `cmd` in a new process group; its stderr goes to `log`.

    Peak RSS is wait4's ru_maxrss for this child (which includes any children it waited
    for), so each measurement is its own process and nothing earlier in the harness counts.
    The log and /proc are polled meanwhile, for per-step times and per-step peak memory.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    out_path = log.with_suffix(".stdout")
    tracker = _StepTracker(log, pipeline)
    with log.open("wb") as err, out_path.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, env=env, cwd=ROOT, start_new_session=True
        )
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                timed_out = True
                _stop(proc.pid)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            tracker.poll(_tree_rss(proc.pid))
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    tracker.poll(0)
    if not pipeline and tracker.current is not None and proc.returncode == 0:
        tracker.seconds[tracker.current] = round(time.perf_counter() - tracker.phase_started, 3)
        tracker.current = None
    stderr_text = log.read_text(encoding="utf-8", errors="replace")
    ok = proc.returncode == 0 and not timed_out
    error = None
    if not ok:
        error = (
            f"stopped after {timeout:.0f} s"
            if timed_out
            else f"exit code {proc.returncode}: " + _error_tail(stderr_text)
        )
    return Measurement(
        ok=ok,
        returncode=proc.returncode,
        wall_seconds=round(wall, 3),
        peak_rss_bytes=usage.ru_maxrss * 1024,  # kilobytes on Linux
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        timed_out=timed_out,
        error=error,
        step_seconds=tracker.seconds,
        step_peak_rss_bytes=tracker.peak_rss,
        running_step=tracker.current,
        running_step_seconds=(
            round(time.perf_counter() - tracker.phase_started, 1) if tracker.current else None
        ),
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
    )


def _stop(pid: int) -> None:
    """SIGTERM the child's process group (Dagster records the interruption), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.perf_counter() + grace
        while time.perf_counter() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
            time.sleep(0.2)


def _error_tail(stderr_text: str, lines: int = 12) -> str:
    # Dagster's debug chatter hides the error; keep the lines that say what went wrong.
    useful = [
        line
        for line in stderr_text.splitlines()
        if line.strip() and " - DEBUG - " not in line and " - INFO - " not in line
    ]
    return "\n".join(useful[-lines:])[-4000:]


# ----------------------------------------------------------------------------- data
@dataclass
class Dataset:
    target_records: int
    people: int
    seed: int
    root: str
    sources: str
    truth: str
    records: int
    records_by_source: dict[str, int]
    largest_true_entity: int
    generation_seconds: float | None
    reused: bool


def prepare_data(
    target_records: int, seed: int, data_root: Path, env: dict[str, str], regenerate: bool
) -> Dataset:
    """Generated exports for about `target_records` records, reused when already on disk."""
    import polars as pl

    people = max(1, round(target_records / RECORDS_PER_PERSON))
    root = data_root / f"people{people}-seed{seed}"
    marker = root / "generated.json"
    if marker.exists() and not regenerate:
        from whiteglove.sample_data import write_sources

        # the exports are reused, the sources file never: it must be today's product file
        without_labels(write_sources(root))
        return Dataset(**{**json.loads(marker.read_text()), "reused": True})
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "whiteglove.sample_data", "--people", str(people)]
        + ["--seed", str(seed), "--out", str(root)],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    generation = round(time.perf_counter() - start, 3)
    # the generator writes the product's own sources file (its suites, survivorship, linkage)
    sources = without_labels(root / "sources.yaml")
    truth = pl.read_csv(root / "truth.csv", schema_overrides={"source_record_id": pl.String})
    dataset = Dataset(
        target_records=target_records,
        people=people,
        seed=seed,
        root=str(root),
        sources=str(sources),
        truth=str(root / "truth.csv"),
        records=truth.height,
        records_by_source=dict(truth.group_by("source").len().sort("source").iter_rows()),
        largest_true_entity=int(truth.group_by("person_id").len()["len"].max() or 0),
        generation_seconds=generation,
        reused=False,
    )
    marker.write_text(json.dumps({k: v for k, v in asdict(dataset).items() if k != "reused"}))
    return dataset


# ----------------------------------------------------------------------------- scoring
def score(clusters_path: Path, truth_path: Path, *, pipeline: bool) -> dict:
    """Pairwise precision/recall/F1 and cluster sizes of a run's clusters against the truth."""
    import polars as pl

    from whiteglove.evaluation import load_labels, pairwise_scores

    if pipeline:  # customer_xref: source, source_record_id, golden_id
        predicted = pl.read_parquet(clusters_path).select(
            (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
            pl.col("golden_id").alias("cluster"),
        )
    else:  # plain Splink: unique_id is already "<source>:<id>"
        predicted = pl.read_parquet(clusters_path).select(
            pl.col("unique_id").alias("record_key"), pl.col("cluster_id").alias("cluster")
        )
    truth = load_labels(pl.DataFrame(), "person_id", truth_path)
    scores = pairwise_scores(predicted, truth)
    sizes = predicted.group_by("cluster").len()["len"]
    return {
        "f1": round(scores.f1, 4),
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
        "records_scored": scores.records,
        "clusters": sizes.len(),
        "largest_cluster": int(sizes.max() or 0),
    }


# ----------------------------------------------------------------------------- one size
def measure_pipeline(
    sources: Path, out: Path, log: Path, timeout: float, env: dict, incremental: bool = False
) -> dict:
    """One `whiteglove run` (with `incremental`, `--incremental`) into `out`, measured; its
    Dagster instance lives next to the folder (`<out>.dagster`, DAGSTER_HOME), so the runs
    on one folder share it, as a scheduled deployment's do, and it stays with the logs."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-pipeline"]
    cmd += ["--sources", str(sources), "--out", str(out)]
    if incremental:
        cmd.append("--incremental")
    home = out.with_name(out.name + ".dagster")
    home.mkdir(parents=True, exist_ok=True)
    m = run_measured(
        cmd, log, timeout=timeout, pipeline=True, env={**env, "DAGSTER_HOME": str(home)}
    )
    result = _measurement_dict(m)
    reported = _last_json(m.stdout) if m.ok else {}
    result["unchanged"] = bool(reported.get("unchanged"))
    result["assets_materialized"] = reported.get("materialized")
    summary_path = out / "run_summary.json"
    if m.ok and summary_path.exists():
        summary = json.loads(summary_path.read_text())
        # run_summary.json is written before publication; the log also has that step. A run
        # that found nothing changed ran no step: the summary is the previous run's.
        if not result["unchanged"]:
            result["step_seconds"] = {**m.step_seconds, **summary.get("step_seconds", {})}
        result["records_read"] = sum(s["rows_read"] or 0 for s in summary["sources"].values())
        result["quarantined"] = summary["stages"].get("quarantine")
        result["golden_customers"] = summary["stages"].get("golden_customers")
        result["match_pairs"] = summary["stages"].get("match_pairs")
        result["records_per_second"] = round(result["records_read"] / m.wall_seconds, 1)
    elif m.ok:
        result.update(ok=False, error="the run succeeded but wrote no run_summary.json")
    return result


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def bench_pipeline(
    ds: Dataset, work: Path, run: int, timeout: float, env: dict, lookups: int = 0
) -> dict:
    out = work / f"pipeline-{ds.records}-{run}"
    shutil.rmtree(out, ignore_errors=True)
    result = measure_pipeline(
        Path(ds.sources), out, work / f"pipeline-{ds.records}-{run}.log", timeout, env
    )
    if result["ok"]:
        result["accuracy"] = score(out / "customer_xref.parquet", Path(ds.truth), pipeline=True)
        if run == 1 and lookups:
            result["lookup"] = bench_lookup(out, Path(ds.truth), env, lookups)
    shutil.rmtree(out, ignore_errors=True)  # gigabytes at 1M records
    return result


def bench_lookup(out: Path, truth: Path, env: dict, lookups: int) -> dict:
    """Single-record lookups against the run's publication (benchmarks/lookup_bench.py), in a
    process of their own; the error, if they fail, instead of the figures."""
    cmd = [sys.executable, str(BENCH_DIR / "lookup_bench.py"), "--out", str(out)]
    done = subprocess.run(
        [*cmd, "--truth", str(truth), "--lookups", str(lookups)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        return {"error": _error_tail(done.stderr)}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_plain(
    ds: Dataset, work: Path, run: int, timeout: float, env: dict, tutorial: bool = False
) -> dict:
    """plain_splink.py on the dataset's exports; with `tutorial`, its tutorial-style training."""
    name = f"{'tutorial' if tutorial else 'plain'}-{ds.records}-{run}"
    clusters = work / f"{name}.parquet"
    cmd = [sys.executable, str(BENCH_DIR / "plain_splink.py")]
    cmd += ["--exports", str(Path(ds.root) / "exports"), "--out", str(clusters)]
    if tutorial:
        cmd.append("--tutorial")
    m = run_measured(cmd, work / f"{name}.log", timeout=timeout, pipeline=False, env=env)
    result = _measurement_dict(m)
    if m.ok:
        try:
            reported = json.loads(m.stdout.strip().splitlines()[-1])
            result["step_seconds"] = reported["phase_seconds"]
            result["match_pairs"] = reported["pairs"]
            result["records_per_second"] = round(ds.records / m.wall_seconds, 1)
            result["accuracy"] = score(clusters, Path(ds.truth), pipeline=False)
        except (ValueError, KeyError, IndexError, OSError) as exc:
            result.update(ok=False, error=f"unreadable result: {exc}")
    clusters.unlink(missing_ok=True)
    return result


def _measurement_dict(m: Measurement) -> dict:
    return {
        "ok": m.ok,
        "wall_seconds": m.wall_seconds,
        "peak_rss_bytes": m.peak_rss_bytes,
        "cpu_seconds": m.cpu_seconds,
        "records_per_second": None,
        "step_seconds": m.step_seconds,
        "step_peak_rss_bytes": m.step_peak_rss_bytes,
        "timed_out": m.timed_out,
        "running_step": m.running_step,
        "running_step_seconds": m.running_step_seconds,
        "error": m.error,
        "accuracy": None,
    }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def combine(runs: list[dict], records: int) -> dict:
    """Medians over the successful repeats (all runs are kept alongside)."""
    good = [r for r in runs if r["ok"]]
    wall = _median([r["wall_seconds"] for r in good])
    steps = list(dict.fromkeys(s for r in good for s in r["step_seconds"]))  # run order
    step_seconds = {
        s: _median([r["step_seconds"][s] for r in good if s in r["step_seconds"]]) for s in steps
    }
    in_steps = sum(v for k, v in step_seconds.items() if k != "total" and v)
    return {
        "ok": bool(good),
        "runs_ok": len(good),
        "runs": runs,
        "wall_seconds": wall,
        "peak_rss_bytes": _median([r["peak_rss_bytes"] for r in good]),
        "cpu_seconds": _median([r["cpu_seconds"] for r in good]),
        "records_per_second": round(records / wall, 1) if wall else None,
        "seconds_per_million_records": round(wall / records * 1e6, 2) if wall else None,
        "step_seconds": step_seconds,
        # interpreter start, imports, Dagster's run set-up: wall time no step accounts for
        "outside_steps_seconds": round(wall - in_steps, 3) if wall else None,
        # steps shorter than the sampling interval may have no sample
        "step_peak_rss_bytes": {
            s: max(r["step_peak_rss_bytes"][s] for r in good if s in r["step_peak_rss_bytes"])
            for s in steps
            if any(s in r["step_peak_rss_bytes"] for r in good)
        },
        # accuracy does not depend on timing: the first good run's is the run's
        "accuracy": good[0]["accuracy"] if good else None,
        "lookup": next((r["lookup"] for r in good if r.get("lookup")), None),
        "error": None if good else (runs[-1]["error"] if runs else "not run"),
    }


def bench_size(
    target: int, args: argparse.Namespace, work: Path, env: dict, log: Callable[[str], None]
) -> dict:
    try:
        ds = prepare_data(target, args.seed, args.data_dir, env, args.regenerate)
    except (subprocess.CalledProcessError, OSError) as exc:
        return {"target_records": target, "ok": False, "error": f"generation failed: {exc}"}
    gen = "reused" if ds.reused else f"{ds.generation_seconds:.1f} s"
    log(f"{ds.records:,} records ({ds.people:,} people; generation {gen})")
    tutorial = not args.skip_plain and target <= args.tutorial_up_to
    pipeline_runs, plain_runs, tutorial_runs = [], [], []
    for run in range(1, args.repeat + 1):
        # Alternating them spreads any drift of a noisy machine over all.
        pipeline_runs.append(bench_pipeline(ds, work, run, args.timeout, env, args.lookups))
        log(f"  pipeline run {run}: {_run_text(pipeline_runs[-1])}")
        if not args.skip_plain:
            plain_runs.append(bench_plain(ds, work, run, args.timeout, env))
            log(f"  plain Splink run {run}: {_run_text(plain_runs[-1])}")
        if tutorial:
            tutorial_runs.append(bench_plain(ds, work, run, args.timeout, env, tutorial=True))
            log(f"  tutorial-style Splink run {run}: {_run_text(tutorial_runs[-1])}")
    pipeline = combine(pipeline_runs, ds.records)
    plain = combine(plain_runs, ds.records) if not args.skip_plain else None
    tutorial_part = combine(tutorial_runs, ds.records) if tutorial else None
    return {
        "target_records": target,
        "ok": all(p is None or p["ok"] for p in (pipeline, plain, tutorial_part)),
        "dataset": asdict(ds),
        "records": ds.records,
        "pipeline": pipeline,
        "plain_splink": plain,
        "tutorial_splink": tutorial_part,
        "pipeline_to_plain_ratio": _ratio(pipeline, plain, "wall_seconds"),
        "pipeline_to_plain_cpu_ratio": _ratio(pipeline, plain, "cpu_seconds"),
        "pipeline_to_tutorial_ratio": _ratio(pipeline, tutorial_part, "wall_seconds"),
    }


def _ratio(a: dict | None, b: dict | None, key: str, digits: int = 3) -> float | None:
    if a and b and a.get(key) and b.get(key):
        return round(a[key] / b[key], digits)
    return None


def _run_text(r: dict) -> str:
    if not r["ok"]:
        return f"FAILED ({r['error'].splitlines()[0] if r['error'] else 'no error text'})"
    f1 = r["accuracy"]["f1"] if r["accuracy"] else float("nan")
    return f"{r['wall_seconds']:.1f} s, peak RSS {r['peak_rss_bytes'] / GIB:.2f} GiB, F1 {f1:.4f}"


# ----------------------------------------------------------------------------- nightly delta
def bench_delta(
    target: int, args: argparse.Namespace, work: Path, env: dict, log: Callable[[str], None]
) -> dict:
    """A day's change at `target` records, each run measured against a full run on the same
    data (benchmarks/delta_data.py changes the files):

    1. full run on the base data: the support export without its newest `share` of all
       records (it is written oldest ticket first);
    2. those rows appended byte for byte, `--incremental` on the same folder, and a full run
       into a fresh folder; then `--incremental` again with nothing changed;
    3. `share` of all records deleted at random across the exports (seeded), `--incremental`
       on the same folder and a full run into a fresh folder.

    Whatever goes wrong is recorded in the result, never raised: the rest of the bench goes on.
    """
    result: dict = {"target_records": target, "share": args.delta_share, "ok": False, "runs": {}}
    try:
        _bench_delta(result, target, args, work, env, log)
    except Exception:  # the report says what broke; the other parts still run
        result["error"] = traceback.format_exc()[-4000:]
        log(f"  delta: FAILED ({result['error'].strip().splitlines()[-1]})")
    result["ok"] = result.get("error") is None and all(r["ok"] for r in result["runs"].values())
    return result


def _bench_delta(
    result: dict,
    target: int,
    args: argparse.Namespace,
    work: Path,
    env: dict,
    log: Callable[[str], None],
) -> None:
    from whiteglove.sample_data import write_sources

    ds = prepare_data(target, args.seed, args.data_dir, env, args.regenerate)
    root = work / f"delta-{ds.records}"
    shutil.rmtree(root, ignore_errors=True)
    data = root / "data"
    shutil.copytree(Path(ds.root) / "exports", data / "exports")
    shutil.copyfile(ds.truth, data / "truth.csv")
    sources = without_labels(write_sources(data))
    truth_path = data / "truth.csv"
    truth = delta_data.read_truth(truth_path)
    rows = round(truth.height * args.delta_share)
    support = data / "exports" / delta_data.EXPORTS["support"][0]
    held_back = delta_data.hold_back_rows(support, rows, delta_data.EXPORTS["support"][1])
    added = delta_data.last_rows(truth, "support", rows)
    people = added["person_id"].n_unique()
    result.update(records=ds.records, delta_records=rows, added_people=people)
    log(f"delta at {ds.records:,} records: {rows:,} support rows held back, then appended")
    out = root / "out"
    runs = result["runs"]

    def run(name: str, folder: Path, incremental: bool) -> dict:
        measured = measure_pipeline(
            sources, folder, root / f"{name}.log", args.timeout, env, incremental
        )
        if measured["ok"]:
            xref = folder / "customer_xref.parquet"
            measured["accuracy"] = score(xref, truth_path, pipeline=True)
        runs[name] = measured
        note = " (found nothing changed)" if measured.get("unchanged") else ""
        log(f"  {name}: {_run_text(measured)}{note}")
        return measured

    def full(name: str) -> dict:
        folder = root / f"{name}-out"
        measured = run(name, folder, incremental=False)
        shutil.rmtree(folder, ignore_errors=True)  # gigabytes at 1M records
        return measured

    if not run("base_full", out, incremental=False)["ok"]:
        result["error"] = "the base run failed: nothing to update incrementally"
        return
    shutil.copyfile(out / "customer_xref.parquet", root / "xref-base.parquet")

    delta_data.append_rows(support, held_back)
    run("delta_incremental", out, incremental=True)
    full("delta_full")
    run("no_change_incremental", out, incremental=True)
    result["delta_untouched"] = delta_data.untouched_unchanged(
        delta_data.read_xref(root / "xref-base.parquet"),
        delta_data.read_xref(out / "customer_xref.parquet"),
        truth,
        added,
    )
    shutil.copyfile(out / "customer_xref.parquet", root / "xref-delta.parquet")

    deleted = delta_data.delete_records(data / "exports", truth, args.delta_share, args.seed)
    result["deleted_records"] = deleted.height
    log(f"  deleted {deleted.height:,} records across the exports")
    if run("deletion_incremental", out, incremental=True)["ok"]:
        import polars as pl

        before = delta_data.read_xref(root / "xref-delta.parquet")
        after = delta_data.read_xref(out / "customer_xref.parquet")
        result["deletion_untouched"] = delta_data.untouched_unchanged(before, after, truth, deleted)
        changes = pl.read_parquet(out / "golden_changes.parquet")
        result["deleted_reported"] = delta_data.deleted_customers_reported(deleted, before, changes)
    full("deletion_full")
    shutil.rmtree(out, ignore_errors=True)
    # the changed exports can be made again from the cached ones; the logs and crosswalks stay
    shutil.rmtree(data / "exports", ignore_errors=True)
    result.update(delta_figures(result))


def delta_figures(delta: dict) -> dict:
    """Ratios and F1 differences of the delta's incremental runs to their full runs."""
    # a failed or stopped run has a wall time too, but no figure to compare
    runs = {name: r for name, r in delta.get("runs", {}).items() if r["ok"]}

    def f1(name: str) -> float | None:
        return ((runs.get(name) or {}).get("accuracy") or {}).get("f1")

    def f1_gap(a: str, b: str) -> float | None:
        return None if f1(a) is None or f1(b) is None else round(abs(f1(a) - f1(b)), 4)

    full = runs.get("delta_full")
    return {
        "delta_ratio": _ratio(runs.get("delta_incremental"), full, "wall_seconds", 4),
        "no_change_ratio": _ratio(runs.get("no_change_incremental"), full, "wall_seconds", 4),
        "deletion_ratio": _ratio(
            runs.get("deletion_incremental"), runs.get("deletion_full"), "wall_seconds", 4
        ),
        "delta_f1_gap": f1_gap("delta_incremental", "delta_full"),
        "deletion_f1_gap": f1_gap("deletion_incremental", "deletion_full"),
    }


def bench_threads16(
    target: int, args: argparse.Namespace, work: Path, env: dict, log: Callable[[str], None]
) -> dict:
    """One full run with `linkage: {duckdb_threads: 16}` (memory limit left at its default)."""
    result: dict = {"target_records": target, "ok": False}
    try:
        ds = prepare_data(target, args.seed, args.data_dir, env, args.regenerate)
        sources = delta_data.sources_with(
            Path(ds.sources), "sources-threads16.yaml", duckdb_threads=16
        )
        out = work / f"threads16-{ds.records}"
        shutil.rmtree(out, ignore_errors=True)
        measured = measure_pipeline(sources, out, work / f"threads16-{ds.records}.log",
                                    args.timeout, env)  # fmt: skip
        if measured["ok"]:
            xref = out / "customer_xref.parquet"
            measured["accuracy"] = score(xref, Path(ds.truth), pipeline=True)
        shutil.rmtree(out, ignore_errors=True)
        result.update(measured, records=ds.records, target_records=target)
        log(f"16 DuckDB threads at {ds.records:,} records: {_run_text(measured)}")
    except Exception:  # recorded, and the bench goes on
        result["error"] = traceback.format_exc()[-4000:]
        log(f"16 DuckDB threads: FAILED ({result['error'].strip().splitlines()[-1]})")
    return result


# ----------------------------------------------------------------------------- report
def _reported(delta: dict) -> dict:
    """The deleted records' customers reported, judged by this code's change kinds (also
    when an earlier measurement is rendered again)."""
    reported = delta.get("deleted_reported") or {}
    if reported.get("by_change"):
        return {**reported, **delta_data.reported_counts(reported["by_change"])}
    return reported


def machine_info() -> dict:
    def cpu_model() -> str | None:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or None

    def memory_bytes() -> int | None:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    def git(*argv: str) -> str | None:
        try:
            done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    dirty = git("status", "--porcelain")
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "memory_bytes": memory_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {p: version(p.replace("_", "-")) for p in PACKAGES},
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(dirty) if dirty is not None else None,
        "load_average_at_start": list(os.getloadavg()),
    }


def linearity(sizes: list[dict]) -> dict | None:
    """Per-record pipeline time at the largest size over that at the smallest (1.0 = linear)."""
    done = [s for s in sizes if s.get("pipeline", {}).get("wall_seconds")]
    if len(done) < 2:
        return None
    small, large = min(done, key=lambda s: s["records"]), max(done, key=lambda s: s["records"])
    if small is large:
        return None

    def per_record(s: dict, key: str) -> float | None:
        part = s.get(key)
        return part["wall_seconds"] / s["records"] if part and part["wall_seconds"] else None

    ratios, fits = {}, {}
    for key in ("pipeline", "plain_splink"):
        a, b = per_record(small, key), per_record(large, key)
        ratios[key] = round(b / a, 3) if a and b else None
        # time = fixed + marginal * records through the two points: a fixed cost (imports,
        # the u sample) makes per-record time fall with size even when the rest is linear
        if a and b:
            marginal = (b * large["records"] - a * small["records"]) / (
                large["records"] - small["records"]
            )
            fits[key] = {
                "fixed_seconds": round(a * small["records"] - marginal * small["records"], 1),
                "marginal_ms_per_record": round(marginal * 1000, 4),
            }
    return {
        "from_records": small["records"],
        "to_records": large["records"],
        "records_factor": round(large["records"] / small["records"], 2),
        "per_record_time_ratio": ratios,
        "two_point_fit": fits,
    }


MILLION = 1_000_000
BIG_RECORDS = 2_500_000  # sizes from here on are "the 3M size" of issue 20's targets


def _near_million(sizes: list[dict]) -> dict | None:
    """The measured size nearest a million records (0.9M to 1.5M), if any."""
    near = [s for s in sizes if s.get("pipeline") and 900_000 <= s.get("records", 0) <= 1_500_000]
    return min(near, key=lambda s: abs(s["records"] - MILLION)) if near else None


def scale_up(sizes: list[dict]) -> dict | None:
    """The largest size of at least 2.5M records against the one near 1M: per-record time
    ratio (1.0 = linear), and the large run's wall time, memory and F1."""
    one = _near_million(sizes)
    big = [s for s in sizes if s.get("records", 0) >= BIG_RECORDS and s.get("pipeline")]
    if one is None or not big:
        return None
    large = max(big, key=lambda s: s["records"])
    p, q = large["pipeline"], one["pipeline"]
    ratio = None
    if p.get("wall_seconds") and q.get("wall_seconds"):
        ratio = round(
            (p["wall_seconds"] / large["records"]) / (q["wall_seconds"] / one["records"]), 3
        )
    return {
        "from_records": one["records"],
        "to_records": large["records"],
        "completed": bool(p.get("ok")),
        "per_record_time_ratio": ratio,
        "wall_seconds": p.get("wall_seconds"),
        "peak_rss_bytes": p.get("peak_rss_bytes"),
        "f1": (p.get("accuracy") or {}).get("f1"),
        "error": p.get("error"),
    }


def targets(
    sizes: list[dict], delta: dict | None = None, threads16: dict | None = None
) -> list[dict]:
    """The done-when targets: issue 6's at the size near 1M records, issue 20's at 1M, at the
    3M size, for the nightly delta and for the 16-thread run (each where it was measured)."""
    checks: list[tuple[str, int | None, object, Callable]] = []
    # parts that ran but could not give a figure (a failed run) fail their targets; at 1M a
    # figure is missing only when its part was not run (--skip-plain, --tutorial-up-to)
    required: list[tuple[str, int | None, object, Callable]] = []
    s = _near_million(sizes)
    if s is not None:
        p, acc = s["pipeline"], s["pipeline"]["accuracy"] or {}
        checks += [
            (name, s["records"], value, test)
            for name, value, test in (
                ("wall time < 120 s", p["wall_seconds"], lambda v: v < 120),
                ("peak RSS < 6 GB", p["peak_rss_bytes"], lambda v: v < 6e9),
                ("pipeline <= 1.5x plain Splink", s["pipeline_to_plain_ratio"], lambda v: v <= 1.5),
                ("pairwise F1 >= 0.97", acc.get("f1"), lambda v: v >= 0.97),
                (
                    "largest cluster <= largest true entity",
                    acc.get("largest_cluster"),
                    lambda v: v <= s["dataset"]["largest_true_entity"],
                ),
                (
                    "pipeline <= 1.0x tutorial-style Splink",
                    s.get("pipeline_to_tutorial_ratio"),
                    lambda v: v <= 1.0,
                ),
            )
        ]
    up = scale_up(sizes)
    if up is not None:
        at = up["to_records"]
        required += [
            ("large run completes", at, up["completed"], bool),
            ("per-record time <= 1.2x that near 1M", at, up["per_record_time_ratio"],
             lambda v: v <= 1.2),
            ("peak RSS within 24 GB", at, up["peak_rss_bytes"], lambda v: v <= 24e9),
            ("pairwise F1 >= 0.97", at, up["f1"], lambda v: v >= 0.97),
        ]  # fmt: skip
    if delta is not None:
        at = delta.get("records")
        untouched = delta.get("delta_untouched") or {}
        gone_untouched = delta.get("deletion_untouched") or {}
        reported = _reported(delta)
        required += [
            ("delta: incremental <= 0.25x full run", at, delta.get("delta_ratio"),
             lambda v: v <= 0.25),
            ("delta: F1 within 0.002 of full run", at, delta.get("delta_f1_gap"),
             lambda v: v <= 0.002),
            ("delta: untouched customers' golden ids unchanged >= 99%", at,
             untouched.get("share"), lambda v: v >= 0.99),
            ("no change: incremental <= 0.1x full run", at, delta.get("no_change_ratio"),
             lambda v: v <= 0.1),
            ("deletions: incremental <= 0.25x full run", at, delta.get("deletion_ratio"),
             lambda v: v <= 0.25),
            ("deletions: F1 within 0.002 of full run", at, delta.get("deletion_f1_gap"),
             lambda v: v <= 0.002),
            ("deletions: untouched customers' golden ids unchanged >= 99%", at,
             gone_untouched.get("share"), lambda v: v >= 0.99),
            ("deletions: deleted records' customers reported updated/retired/merged = 100%", at,
             reported.get("share"), lambda v: v >= 1.0),
        ]  # fmt: skip
    if threads16 is not None:
        required.append(
            ("16 DuckDB threads: run completes", threads16.get("records"), threads16["ok"], bool)
        )
    return [
        {
            "target": name,
            "records": at,
            "value": value,
            "met": (None if optional else False) if value is None else bool(test(value)),
        }
        for optional, group in ((True, checks), (False, required))
        for name, at, value, test in group
    ]


def _gib(value: float | None) -> str:
    return "—" if value is None else f"{value / GIB:.2f}"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def markdown(report: dict) -> str:
    m = report["machine"]
    pk = m["packages"]
    lines = [
        f"Measured {report['started_at'][:16].replace('T', ' ')} UTC on {m['cpus']} × "
        f"{m['cpu_model']}, {_gib(m['memory_bytes'])} GiB RAM, {m['os']}; Python {m['python']}, "
        f"polars {pk['polars']}, duckdb {pk['duckdb']}, splink {pk['splink']}, "
        f"dagster {pk['dagster']}; commit {m['git_commit']}"
        f"{' + uncommitted changes' if m['git_dirty'] else ''}; seed {report['config']['seed']}, "
        f"median of {report['config']['repeat']} run(s); load average "
        f"{_num(m['load_average_at_start'][0], '.2f')} at the start, "
        f"{_num((m.get('load_average_at_end') or [None])[0], '.2f')} at the end.",
        "",
        f"Command: `{report['command']}`",
        "",
        "| records | people | generation s | pipeline s | plain Splink s | ratio "
        "| CPU s: pipeline / plain (ratio) | pipeline rec/s "
        "| pipeline peak RSS GiB | plain peak RSS GiB | pipeline F1 | plain F1 "
        "| largest cluster: pipeline / plain / true "
        "| tutorial-style Splink s | ratio to it | its F1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["sizes"]:
        if "dataset" not in s:
            lines.append(f"| {s['target_records']:,} (target) | | {s['error']} |||||||||||||")
            continue
        p, q, ds = s["pipeline"], s["plain_splink"] or {}, s["dataset"]
        t = s.get("tutorial_splink")
        pa, qa = p.get("accuracy") or {}, q.get("accuracy") or {}
        # reused exports: the time it took when they were generated
        gen = _num(ds["generation_seconds"]) + (" (earlier)" if ds["reused"] else "")
        lines.append(
            f"| {s['records']:,} | {ds['people']:,} | {gen} | {_cell(p)} | {_cell(q)} "
            f"| {_num(s['pipeline_to_plain_ratio'], '.2f')} "
            f"| {_num(p.get('cpu_seconds'), '.0f')} / {_num(q.get('cpu_seconds'), '.0f')} "
            f"({_num(s.get('pipeline_to_plain_cpu_ratio'), '.2f')}) "
            f"| {_num(p.get('records_per_second'), ',.0f')} "
            f"| {_gib(p.get('peak_rss_bytes'))} | {_gib(q.get('peak_rss_bytes'))} "
            f"| {_num(pa.get('f1'), '.4f')} | {_num(qa.get('f1'), '.4f')} "
            f"| {pa.get('largest_cluster', '—')} / {qa.get('largest_cluster', '—')} / "
            f"{ds['largest_true_entity']} "
            f"| {_cell(t)} | {_num(s.get('pipeline_to_tutorial_ratio'), '.2f')} "
            f"| {_num(((t or {}).get('accuracy') or {}).get('f1'), '.4f')} |"
        )
    lin = report.get("linearity")
    if lin:
        r = lin["per_record_time_ratio"]
        lines += [
            "",
            f"Linearity: from {lin['from_records']:,} to {lin['to_records']:,} records "
            f"(×{lin['records_factor']}), time per record grew ×{_num(r['pipeline'], '.2f')} for "
            f"the pipeline and ×{_num(r['plain_splink'], '.2f')} for plain Splink "
            "(1.00 = linear).",
        ]
        for key, fit in lin.get("two_point_fit", {}).items():
            lines[-1] += (
                f" {'Pipeline' if key == 'pipeline' else 'Plain Splink'}: about "
                f"{fit['fixed_seconds']:.0f} s fixed + {fit['marginal_ms_per_record']:.3f} ms "
                "per record."
            )
    lines += _scale_up_lines(report.get("scale_up"))
    lines += _delta_lines(report.get("delta"))
    lines += _threads16_lines(report.get("threads16"))
    if report.get("targets"):
        lines += ["", "| target | at records | measured | met |", "|---|---:|---:|:---:|"]
        for t in report["targets"]:
            met = "—" if t["met"] is None else ("yes" if t["met"] else "**no**")
            at = "—" if t.get("records") is None else f"{t['records']:,}"
            lines.append(f"| {t['target']} | {at} | {_target_value(t)} | {met} |")
    lines += _lookup_table(report["sizes"])
    lines += ["", *_steps_table(report["sizes"])]
    return "\n".join(lines) + "\n"


def _target_value(t: dict) -> str:
    value = t["value"]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if "RSS" in t["target"]:
        return _gib(value) + " GiB"
    if "%" in t["target"] and value is not None:
        return f"{value:.2%}"
    return _num(value, ".4f" if "F1" in t["target"] else ".4g")


def _scale_up_lines(up: dict | None) -> list[str]:
    if not up:
        return []
    if not up["completed"]:
        why = (up.get("error") or "no error text").strip().splitlines()[-1]
        return ["", f"The run at {up['to_records']:,} records did not complete: {why}"]
    return [
        "",
        f"From {up['from_records']:,} to {up['to_records']:,} records: time per record "
        f"×{_num(up['per_record_time_ratio'], '.2f')} (1.00 = linear); the large run took "
        f"{_num(up['wall_seconds'])} s, peak RSS {_gib(up['peak_rss_bytes'])} GiB, "
        f"pairwise F1 {_num(up['f1'], '.4f')}.",
    ]


DELTA_RUNS = {
    "base_full": "full run, base data (support export without its newest rows)",
    "delta_incremental": "`--incremental`, the newest rows appended",
    "delta_full": "full run on the same data, fresh folder",
    "no_change_incremental": "`--incremental` again, nothing changed",
    "deletion_incremental": "`--incremental`, records deleted",
    "deletion_full": "full run on the same data, fresh folder",
}
DELTA_FULL_RUN = {
    "delta_incremental": "delta_full",
    "no_change_incremental": "delta_full",
    "deletion_incremental": "deletion_full",
}


def _delta_lines(delta: dict | None) -> list[str]:
    """The nightly delta: each run, its ratio to the full run on the same data, and what the
    incremental runs did to the golden ids."""
    if not delta:
        return []
    at = delta.get("records")
    lines = [
        "",
        f"Nightly delta at {at or delta['target_records']:,} records "
        f"({delta['share']:.0%} of all records: {delta.get('delta_records', 0):,} support rows "
        f"appended byte for byte, then {delta.get('deleted_records', 0):,} records deleted "
        "at random across the four exports); each `--incremental` run updates the folder of "
        "the run before it:",
        "",
        "| run | wall s | CPU s | peak RSS GiB | F1 | / full run on the same data "
        "| slowest steps (s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    runs = delta.get("runs", {})
    for name, label in DELTA_RUNS.items():
        r = runs.get(name)
        if r is None:
            continue
        wall = _num(r["wall_seconds"]) if r["ok"] else ("timed out" if r["timed_out"] else "failed")
        full = runs.get(DELTA_FULL_RUN.get(name, ""))
        ratio = _ratio(r, full, "wall_seconds", 4) if r["ok"] and full and full["ok"] else None
        slowest = sorted(r.get("step_seconds", {}).items(), key=lambda kv: -(kv[1] or 0))[:4]
        steps = ", ".join(f"{k} {v:.1f}" for k, v in slowest if k != "total")
        if r.get("unchanged"):
            steps = "found nothing changed: no step ran"
        elif r.get("assets_materialized") is not None and name in DELTA_FULL_RUN:
            steps = f"{r['assets_materialized']} assets rebuilt; {steps}"
        lines.append(
            f"| {label} | {wall} | {_num(r['cpu_seconds'], '.0f')} "
            f"| {_gib(r['peak_rss_bytes'])} | {_num((r.get('accuracy') or {}).get('f1'), '.4f')} "
            f"| {_num(ratio, '.4g')} | {steps or '—'} |"
        )
    notes = []
    for key, when in (
        ("delta_untouched", "the rows appended"),
        ("deletion_untouched", "the deletions"),
    ):
        u = delta.get(key)
        if u and u.get("records"):
            notes.append(
                f"After {when}, {u['unchanged']:,} of the {u['records']:,} records of the "
                f"{u['people']:,} people it did not touch keep their golden id "
                f"({u['share']:.2%})."
            )
    rep = _reported(delta)
    if rep and rep.get("with_customer"):
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(rep["by_change"].items()))
        notes.append(
            f"Of the {rep['with_customer']:,} deleted records that had a customer, "
            f"{rep['reported']:,} ({rep['share']:.2%}) have it in golden_changes.parquet as "
            f"updated, retired or merged into another (by change: {kinds})."
        )
    failed = [(n, r) for n, r in runs.items() if not r["ok"]]
    for name, r in failed:
        notes.append(f"`{name}` failed: {(r['error'] or 'no error text').strip().splitlines()[-1]}")
    if delta.get("error"):
        notes.append(f"The delta stopped: {delta['error'].strip().splitlines()[-1]}")
    return lines + ([""] + [" ".join(notes)] if notes else [])


def _threads16_lines(t16: dict | None) -> list[str]:
    if not t16:
        return []
    at = t16.get("records") or t16["target_records"]
    if not t16["ok"]:
        why = (t16.get("error") or "no error text").strip().splitlines()[-1]
        return ["", f"16 DuckDB threads at {at:,} records: did **not** complete ({why})."]
    f1 = (t16.get("accuracy") or {}).get("f1")
    return [
        "",
        f"16 DuckDB threads (`linkage: {{duckdb_threads: 16}}`, memory limit at its default) "
        f"at {at:,} records: completed, {_num(t16['wall_seconds'])} s, peak RSS "
        f"{_gib(t16['peak_rss_bytes'])} GiB, pairwise F1 {_num(f1, '.4f')}.",
    ]


def _lookup_table(sizes: list[dict]) -> list[str]:
    """Single lookups against each size's publication (benchmarks/lookup_bench.py)."""
    rows = [(s["records"], (s.get("pipeline") or {}).get("lookup")) for s in sizes]
    rows = [(n, lk) for n, lk in rows if lk]
    if not rows:
        return []
    lines = [
        "",
        "Single lookups (`whiteglove lookup`'s code, one process, after the first run): "
        "latency of records of the batch typed as a caller gives them, the share finding the "
        "golden customer the batch gave them first, and with typos added (two letters swapped "
        "in one of first name, surname or email user name) the share finding the person's "
        "customer first against the share of the same records the batch put there.",
        "",
        "| records | index load s | index RSS GiB | lookups | p50 ms | p95 ms "
        "| own customer first | typo p95 ms | typos: right customer first | batch: right "
        "customer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, lk in rows:
        if "error" in lk:
            lines.append(f"| {n:,} | failed: {lk['error'].splitlines()[-1]} |||||||||")
            continue
        lines.append(
            f"| {n:,} | {lk['index_load_seconds']} | {lk['index_rss_gib']} | {lk['lookups']} "
            f"| {lk['p50_ms']} | {lk['p95_ms']} | {lk['own_customer_first']:.4f} "
            f"| {lk['typo_p95_ms']} | {lk['typo_right_customer_first']:.4f} "
            f"| {lk['batch_right_customer']:.4f} |"
        )
    return lines


def _cell(part: dict) -> str:
    if not part:
        return "—"
    if part.get("ok"):
        return _num(part["wall_seconds"])
    first = next((r for r in part.get("runs", []) if not r["ok"]), None)
    return "timed out" if first and first["timed_out"] else "failed"


def _steps_table(sizes: list[dict]) -> list[str]:
    """Pipeline seconds per Dagster step for every size, largest size's slowest step first."""
    done = [s for s in sizes if s.get("pipeline")]
    if not done:
        return []

    def steps_of(s: dict) -> tuple[dict, dict]:
        p = s["pipeline"]
        if p["ok"]:
            return p["step_seconds"], p["step_peak_rss_bytes"]
        # a failed or stopped run: what the log had before it ended
        run = p["runs"][-1] if p["runs"] else {}
        return run.get("step_seconds", {}), run.get("step_peak_rss_bytes", {})

    largest = max(done, key=lambda s: s["records"])
    order_seconds = steps_of(largest)[0]
    names = sorted(
        {n for s in done for n in steps_of(s)[0]},
        key=lambda n: -(order_seconds.get(n) or 0),
    )
    smallest = min(done, key=lambda s: s["records"])
    head = " | ".join(f"{s['records']:,} s" for s in done)
    total = sum(v for v in order_seconds.values() if v)
    factor = largest["records"] / smallest["records"]
    lines = [
        f"Pipeline steps (Dagster step times; growth from {smallest['records']:,} to "
        f"{largest['records']:,} records, ×{factor:.1f} the records; share and peak RSS at "
        f"{largest['records']:,}):",
        "",
        f"| step | {head} | growth | share | peak RSS GiB |",
        "|---|" + "---:|" * (len(done) + 3),
    ]
    for name in names:
        cells = " | ".join(_num(steps_of(s)[0].get(name), ".2f") for s in done)
        secs, first = order_seconds.get(name), steps_of(smallest)[0].get(name)
        share = f"{secs / total:.0%}" if secs and total else "—"
        growth = f"×{secs / first:.1f}" if secs and first and largest is not smallest else "—"
        peak = _gib(steps_of(largest)[1].get(name))
        lines.append(f"| {name} | {cells} | {growth} | {share} | {peak} |")
    totals = " | ".join(_num(sum(steps_of(s)[0].values()), ".1f") for s in done)
    lines.append(f"| **sum of steps** | {totals} | | | |")
    outside = " | ".join(_num(s["pipeline"].get("outside_steps_seconds"), ".1f") for s in done)
    lines.append(f"| outside steps (start-up, imports, run set-up) | {outside} | | | |")
    last = largest["pipeline"]["runs"][-1] if largest["pipeline"]["runs"] else {}
    if not largest["pipeline"]["ok"] and last.get("running_step"):
        why = (last["error"] or "").splitlines()[0]
        lines.append(
            f"\nThe run at {largest['records']:,} records ended during `{last['running_step']}`, "
            f"after {_num(last['running_step_seconds'])} s in it ({why})."
        )
    plain = [s for s in done if s.get("plain_splink") and s["plain_splink"]["ok"]]
    if plain:
        lines += ["", "Plain Splink phases, seconds:", ""]
        phases = list(plain[-1]["plain_splink"]["step_seconds"])
        lines.append("| records | " + " | ".join(phases) + " |")
        lines.append("|---:|" + "---:|" * len(phases))
        for s in plain:
            st = s["plain_splink"]["step_seconds"]
            lines.append(
                f"| {s['records']:,} | " + " | ".join(_num(st.get(p), ".2f") for p in phases) + " |"
            )
    return lines


def update_results(path: Path, table: str) -> None:
    """Replace the generated block of RESULTS.md, keeping whatever people wrote around it."""
    block = f"{RESULTS_BEGIN}\n{table}{RESULTS_END}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if RESULTS_BEGIN in text and RESULTS_END in text:
        head, rest = text.split(RESULTS_BEGIN, 1)
        text = head + block + rest.split(RESULTS_END, 1)[1]
    else:
        text = (text or "# Benchmark results\n") + "\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------- entry points
def child_pipeline(sources: Path, out: Path, incremental: bool = False) -> int:
    """`whiteglove run [--incremental]` as the CLI runs it (pipelines.runner.run_pipeline),
    logging at DEBUG so Dagster prints each step's start and end for the harness to follow;
    one JSON line on stdout says whether it found nothing changed and what it rebuilt."""
    from pipelines.runner import run_pipeline

    outcome = run_pipeline(sources, out, log_level="DEBUG", incremental=incremental)
    if not outcome.success:
        print("\n".join(outcome.failures) or "run failed", file=sys.stderr)
        return 1
    # read defensively: the harness must still time a runner whose outcome lost these fields
    rebuilt = getattr(outcome, "materialized", None)
    print(
        json.dumps(
            {
                "unchanged": bool(getattr(outcome, "unchanged", False)),
                "materialized": None if rebuilt is None else len(rebuilt),
            }
        )
    )
    return 0


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The user's Dagster instance is never used: the user's run history neither slows the
    # benchmark nor fills up with its runs (pipeline runs get their own, measure_pipeline).
    env.pop("DAGSTER_HOME", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="total source records per size (people = records / 2.84)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians reported")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds before a run is stopped and reported as timed out",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=BENCH_DIR / "out",
        help="where <timestamp>.json and the run logs go",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="generated exports, reused across runs (default OUT_DIR/data)",
    )
    parser.add_argument("--regenerate", action="store_true", help="do not reuse generated data")
    parser.add_argument(
        "--delta-size",
        type=int,
        default=None,
        help="records at which to measure a nightly delta (appended rows, then deletions) "
        "against full runs on the same data (off by default)",
    )
    parser.add_argument(
        "--delta-share",
        type=float,
        default=0.01,
        help="share of all records appended, then deleted, by the delta (default 0.01)",
    )
    parser.add_argument(
        "--threads16-size",
        type=int,
        default=None,
        help="records at which to run once with linkage.duckdb_threads: 16 (off by default)",
    )
    parser.add_argument(
        "--tutorial-up-to",
        type=int,
        default=1_000_000,
        help="time the tutorial-style Splink script at sizes up to this many records",
    )
    parser.add_argument("--skip-plain", action="store_true", help="time the pipeline only")
    parser.add_argument(
        "--lookups", type=int, default=1000, help="single lookups timed after each size's first run"
    )
    parser.add_argument(
        "--results", type=Path, default=None, help="RESULTS.md whose generated block to replace"
    )
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="only print (and with --results write) the tables of an earlier <timestamp>.json",
    )
    parser.add_argument("--child-pipeline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--incremental", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(s < 1 for s in args.sizes):
        parser.error("--repeat and --sizes must be positive")
    if not 0 < args.delta_share < 0.5:
        parser.error("--delta-share must be between 0 and 0.5")
    if any(n is not None and n < 1 for n in (args.delta_size, args.threads16_size)):
        parser.error("--delta-size and --threads16-size must be positive")
    args.data_dir = args.data_dir or args.out_dir / "data"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_pipeline:
        return child_pipeline(args.sources, args.out, args.incremental)
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        # derived figures follow this code, not the code that measured
        _derive(report)
        table = markdown(report)
        print(table)
        if args.results:
            update_results(args.results, table)
        return 0

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = args.out_dir / "work" / stamp
    env = child_env()
    report = {
        "schema_version": SCHEMA_VERSION,
        "started_at": started.isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench.py", *(argv or sys.argv[1:])]),
        "config": {
            "sizes": args.sizes,
            "repeat": args.repeat,
            "seed": args.seed,
            "timeout_seconds": args.timeout,
            "records_per_person": RECORDS_PER_PERSON,
            "delta_size": args.delta_size,
            "delta_share": args.delta_share,
            "threads16_size": args.threads16_size,
            "tutorial_up_to": args.tutorial_up_to,
        },
        "machine": machine_info(),
        "sizes": [],
    }
    for target in sorted(args.sizes):
        report["sizes"].append(bench_size(target, args, work, env, log))
    if args.delta_size:
        report["delta"] = bench_delta(args.delta_size, args, work, env, log)
    if args.threads16_size:
        report["threads16"] = bench_threads16(args.threads16_size, args, work, env, log)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    _derive(report)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = markdown(report)
    print(table)
    log(f"wrote {json_path}; run logs in {work}")
    if args.results:
        update_results(args.results, table)
        log(f"updated {args.results}")
    parts = [*report["sizes"], report.get("delta"), report.get("threads16")]
    return 0 if all(p["ok"] for p in parts if p is not None) else 1


def _derive(report: dict) -> None:
    """Figures computed from the measured ones (by this code, also for --render)."""
    report["linearity"] = linearity(report["sizes"])
    report["scale_up"] = scale_up(report["sizes"])
    if report.get("delta"):
        report["delta"].update(delta_figures(report["delta"]))
    report["targets"] = targets(report["sizes"], report.get("delta"), report.get("threads16"))


if __name__ == "__main__":
    sys.exit(main())
