"""``bench mlflow-ui``: the MLflow UI on the results folder's store, opened on the runs table."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

ENV_DEFAULTS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runner needed


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench mlflow-ui``."""
    parser = commands.add_parser(
        "mlflow-ui",
        help="serve the MLflow UI on this results folder's tracking store",
        description="Starts `mlflow ui` on the store `bench run` logs to (default "
        "sqlite:///<results>/mlflow.db) and prints each experiment's runs-table link. "
        "A tracking server (http URI) already serves its UI: its links are printed only.",
    )
    parser.add_argument(
        "--results", metavar="DIR", help="results folder (default: $BENCH_RESULTS or ./results)"
    )
    parser.add_argument("--tracking-uri", metavar="URI", help="store (default as `bench run`)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=5000, help="port to serve on (default 5000)")
    parser.add_argument(
        "--print-command", action="store_true", help="print the `mlflow ui` command, run nothing"
    )
    parser.set_defaults(handler=run)


def ui_command(uri: str, artifacts: str, host: str, port: int) -> list[str]:
    """The ``mlflow ui`` command line serving the store at ``uri``."""
    return [
        sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
        "--default-artifact-root", artifacts, "--host", host, "--port", str(port),
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the links, then become ``mlflow ui`` until interrupted (or print the command)."""
    from bench.paths import results_dir
    from bench.tracking.naming import TABLE_COLUMNS, experiment_link
    from bench.tracking.store import ARTIFACTS_DIR
    from bench.tracking.uri import tracking_uri

    results = results_dir(args.results)
    uri = tracking_uri(args.tracking_uri, results)
    remote = uri.startswith(("http://", "https://"))
    command = ui_command(uri, str((results / ARTIFACTS_DIR).resolve()), args.host, args.port)
    if args.print_command:
        print("(a tracking server serves its own UI)" if remote else shlex.join(command))
        return 0
    ui_url = uri.rstrip("/") if remote else f"http://{args.host}:{args.port}"
    for name, experiment in _experiments(uri):
        print(f"{name}: {experiment_link(ui_url, experiment)}")
    print("columns to tick once per experiment (Columns button): " + ", ".join(TABLE_COLUMNS))
    if remote:
        return 0
    sys.stdout.flush()
    os.execve(sys.executable, command, {**ENV_DEFAULTS, **os.environ})  # this process becomes it


def _experiments(uri: str) -> list[tuple[str, str]]:
    """(name, id) of the store's experiments holding runs of this suite."""
    from bench.tracking.store import Store

    store = Store(uri)
    with store.errors():
        found = store.client.search_experiments(filter_string="tags.task_group != ''")
    return sorted((e.name, e.experiment_id) for e in found)
