"""What each method-faithfulness change did to the PTB-XL subset's superdiagnostic numbers.

Every change below is a method config field whose default moved to the paper's (or reference
code's) behaviour; its "before" variant restores the old value with ``--set
profile_overrides...``. Each variant is one real ``bench run`` (superdiagnostic, fractions 0.1
and 1, one fraction seed, one pretraining seed) in ``<results>/<schedule>/<method>``; variants
with different configs get different run keys, and a variant already finished is not run again
(bench skips finished cells). The test macro AUROC is read from the run's own
``leaderboards/leaderboard.csv`` and kept, with the run's wall time, in ``faithfulness.json``
there; the Markdown table shows every schedule found under the ``--results`` folders, with the
gain (Δ) over the method's own ``random_init[method]`` (linear probe only). Runs of different
methods may go on in parallel (one folder each); two of one method must not share a folder.

Schedules: ``smoke`` is the smoke profile as it is (JEPA: 25 epochs, EMA 0.999, lr 3e-3).
``long`` doubles JEPA's pretraining (50 epochs) and quadruples the 5-epoch methods' (cpc,
hybrid, stmask: 20 epochs); supervised_xresnet1d, which has no pretraining, fine-tunes for 4
epochs instead of 1. Everything else is the smoke profile's.

    OMP_NUM_THREADS=1 python benchmarks/faithfulness.py --schedule smoke --results DIR
    OMP_NUM_THREADS=1 python benchmarks/faithfulness.py --schedule long --only jepa --out t.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

TASK = "ptbxl-superdiagnostic"
FRACTIONS = ("0.1", "1")
STORE = "faithfulness.json"
SCHEDULES: dict[str, dict[str, Mapping[str, str]]] = {
    "smoke": {},
    "long": {
        "jepa": {"methods.jepa.train.epochs": "50"},
        "cpc": {"methods.cpc.train.epochs": "20"},
        "hybrid": {"methods.hybrid.train.epochs": "20"},
        "stmask": {"methods.stmask.train.epochs": "20"},
        "supervised_xresnet1d": {"evaluation.finetune.epochs": "4"},
    },
}


@dataclass(frozen=True)
class Variant:
    """One ``bench run``: a method under ``overrides`` (keys under ``profile_overrides``).

    ``baseline``: the run also evaluates ``random_init[method]``, the Δ reference of this
    variant (and of the method's variants without their own).
    """

    change: str
    label: str
    method: str
    overrides: Mapping[str, str] = field(default_factory=dict)
    protocol: str = "linear"
    baseline: bool = False

    @property
    def key(self) -> str:
        """A stable name for this variant in the results JSON."""
        sets = ",".join(f"{k}={v}" for k, v in sorted(self.overrides.items()))
        return f"{self.method}|{self.protocol}|{sets}"


def _jepa_before(**before: str) -> Variant:
    """An ECG-JEPA variant restoring the old values ``before`` of its config fields."""
    label = ", ".join(f"{k}: {v}" for k, v in before.items()) + " (before)"
    overrides = {f"methods.jepa.config.{k}": v for k, v in before.items()}
    return Variant("ECG-JEPA", label, "jepa", overrides)


VARIANTS: tuple[Variant, ...] = (
    Variant("ECG-JEPA", "all defaults (after)", "jepa", baseline=True),
    _jepa_before(target_drop_path="false"),
    _jepa_before(depth_scaled_init="false"),
    _jepa_before(pos_layout="lead_time", norm_eps="1.0e-6"),
    _jepa_before(predictor_pos="time_1d"),
    _jepa_before(mask_per="sample"),
    _jepa_before(mask_token_decay="false"),
    Variant("stmask lead loss", "shuffled samples only (default)", "stmask", baseline=True),
    Variant(
        "stmask lead loss",
        "every slot, lead_loss_on: all (before)",
        "stmask",
        {"methods.stmask.config.lead_loss_on": "all"},
    ),
    Variant(
        "stmask lead loss",
        "every sample shuffled, shuffle_prob: 1",
        "stmask",
        {"methods.stmask.config.shuffle_prob": "1.0"},
    ),
    Variant("hybrid masking", "token (default)", "hybrid", baseline=True),
    Variant(
        "hybrid masking",
        "time columns shared by all leads, mask_type: column",
        "hybrid",
        {"methods.hybrid.config.mask_type": "column"},
    ),
    Variant("cpc input", "shared: 2.5 s, not normalised (default)", "cpc", baseline=True),
    Variant(
        "cpc input",
        "input: native: 10 s, per-lead z-score",
        "cpc",
        {"input": "native"},
        baseline=True,
    ),
    Variant(
        "supervised_xresnet1d head, fine-tune",
        "the benchmark's head (default)",
        "supervised_xresnet1d",
        protocol="finetune",
    ),
    Variant(
        "supervised_xresnet1d head, fine-tune",
        "linear head (before)",
        "supervised_xresnet1d",
        {"evaluation.finetune.head": "linear"},
        protocol="finetune",
    ),
)

Scores = dict[str, float]  # fraction -> test macro AUROC


@dataclass(frozen=True)
class Outcome:
    """A variant's scores, its baseline's, whether it collapsed, and the run's wall time."""

    scores: Scores
    baseline: Scores
    collapsed: bool
    wall_s: float
    returncode: int


def bench_command(variant: Variant, schedule: str, data_root: str) -> list[str]:
    """The ``bench run`` command line of ``variant`` under ``schedule``."""
    methods = [variant.method] + ([f"random_init[{variant.method}]"] if variant.baseline else [])
    sets = dict(SCHEDULES[schedule].get(variant.method, {}))
    sets.update(variant.overrides)
    command = [str(Path(sys.executable).with_name("bench")), "run", "--methods", *methods]
    command += ["--tasks", TASK, "--fractions", *FRACTIONS, "--seeds", "1"]
    command += ["--protocols", variant.protocol, "--profile", "smoke", "--data-root", data_root]
    command += ["--no-tracking", "--no-progress", "--jobs", "1"]
    for key, value in sets.items():
        command += ["--set", f"profile_overrides.{key}={value}"]
    return command


def _fraction(text: str) -> str:
    return "1" if float(text) == 1.0 else f"{float(text):g}"


def read_leaderboard(path: Path, method: str, protocol: str) -> tuple[Scores, bool]:
    """(fraction -> mean test macro AUROC, any collapsed) of ``method``'s ``protocol`` rows."""
    scores: Scores = {}
    collapsed = False
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["task"] != TASK or row["method"] != method or row["protocol"] != protocol:
                continue
            if row["method_protocol"] not in ("", protocol):
                continue
            scores[_fraction(row["fraction"])] = float(row["mean"])
            collapsed = collapsed or row["collapsed"].strip().lower() == "true"
    return scores, collapsed


def run_variant(variant: Variant, schedule: str, folder: Path, data_root: str) -> Outcome:
    """Run ``variant`` with bench (finished cells are reused) and read its leaderboard."""
    board = folder / "leaderboards" / "leaderboard.csv"
    board.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_RESULTS": str(folder), "OMP_NUM_THREADS": "1"}
    log = folder / "logs" / f"{len(list((folder / 'logs').glob('*.log'))):02d}.log"
    command = bench_command(variant, schedule, data_root)
    start = time.perf_counter()
    with log.open("w") as handle:
        handle.write(" ".join(command) + "\n")
        handle.flush()
        done = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if done.returncode != 0 or not board.exists():
        return Outcome({}, {}, False, wall, done.returncode or 1)
    scores, collapsed = read_leaderboard(board, variant.method, variant.protocol)
    baseline: Scores = {}
    if variant.baseline:
        baseline, _ = read_leaderboard(board, f"random_init[{variant.method}]", "linear")
    return Outcome(scores, baseline, collapsed, wall, 0)


Stored = dict[str, Outcome]  # variant key -> outcome


def load(path: Path) -> Stored:
    """The outcomes stored in one method's folder."""
    records = json.loads(path.read_text()) if path.exists() else {}
    return {key: Outcome(**record) for key, record in records.items()}


def save(path: Path, stored: Stored) -> None:
    """Write ``stored`` as JSON to ``path``."""
    path.write_text(json.dumps({key: asdict(o) for key, o in stored.items()}, indent=1))


def gather(folders: Sequence[Path]) -> Stored:
    """The outcomes of one schedule: every method folder's under ``folders``, merged."""
    merged: Stored = {}
    for folder in folders:
        for path in sorted(folder.glob(f"*/{STORE}")):
            merged.update(load(path))
    return merged


def names(variant: Variant) -> set[str]:
    """What ``--only`` matches: the method, the change and the overridden fields' names."""
    return {variant.method, variant.change} | {k.rsplit(".", 1)[-1] for k in variant.overrides}


def _entry(variant: Variant, stored: Stored, reference: Scores, fraction: str) -> str:
    outcome = stored.get(variant.key)
    if outcome is None or fraction not in outcome.scores:
        return "–"
    value = outcome.scores[fraction]
    text = f"{value:.3f}"
    if variant.protocol == "linear" and fraction in reference:
        text += f" (Δ {value - reference[fraction]:+.3f})"
    return text + (" [collapsed]" if outcome.collapsed else "")


def _baseline(stored: Stored, variant: Variant) -> Scores:
    outcome = stored.get(variant.key)
    return outcome.baseline if outcome is not None else {}


def _references(stored: Stored) -> dict[str, Scores]:
    """Variant key -> the random_init scores its Δ is taken against (its own, else the
    method's first variant's)."""
    by_method: dict[str, Scores] = {}
    out: dict[str, Scores] = {}
    for variant in VARIANTS:
        own = _baseline(stored, variant)
        if own:
            by_method.setdefault(variant.method, own)
        out[variant.key] = own or by_method.get(variant.method, {})
    return out


def markdown(results: Mapping[str, Stored]) -> str:
    """The table: a row per variant (and random_init row), columns per schedule and fraction."""
    schedules = [name for name in SCHEDULES if name in results]
    head = ["change", "variant"] + [f"{s} {f} %" for s in schedules for f in ("10", "100")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    refs = {s: _references(results[s]) for s in schedules}
    previous = ""
    for variant in VARIANTS:
        cells = [variant.change if variant.change != previous else "", variant.label]
        previous = variant.change
        for s in schedules:
            cells += [_entry(variant, results[s], refs[s][variant.key], f) for f in FRACTIONS]
        lines.append("| " + " | ".join(cells) + " |")
        if variant.baseline:
            base = ["", f"random_init[{variant.method}] (its Δ reference)"]
            for s in schedules:
                own = _baseline(results[s], variant)
                base += [f"{own[f]:.3f}" if f in own else "–" for f in FRACTIONS]
            lines.append("| " + " | ".join(base) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="smoke")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="methods, change names or overridden fields"
    )
    parser.add_argument(
        "--results",
        type=Path,
        nargs="+",
        default=[Path("results/faithfulness")],
        help="runs write to the first folder; the table merges every folder's",
    )
    parser.add_argument("--data-root", default=os.environ.get("BENCH_PTBXL_ROOT", ""))
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    parser.add_argument("--table-only", action="store_true", help="run nothing, print the table")
    args = parser.parse_args(argv)
    if not args.table_only and not args.data_root:
        parser.error("--data-root (or BENCH_PTBXL_ROOT) is required to run")
    wanted = [v for v in VARIANTS if not args.only or names(v) & set(args.only)]
    for variant in [] if args.table_only else wanted:
        folder = args.results[0] / args.schedule / variant.method
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        outcome = run_variant(variant, args.schedule, folder, args.data_root)
        stored = load(folder / STORE)
        stored[variant.key] = outcome
        save(folder / STORE, stored)
        status = "ok" if outcome.returncode == 0 else f"FAILED rc={outcome.returncode}"
        print(f"{variant.change} / {variant.label}: {outcome.wall_s:.0f} s {status}", flush=True)
    results = {s: gather([root / s for root in args.results]) for s in SCHEDULES}
    table = markdown({s: r for s, r in results.items() if r})
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
