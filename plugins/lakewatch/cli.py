"""The ``lakewatch`` command.

Sub-commands import their modules lazily so ``lakewatch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date

Handler = Callable[[argparse.Namespace], int]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from err


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return n


# lake ----------------------------------------------------------------------------------------


def cmd_lake_generate(args: argparse.Namespace) -> int:
    from lakewatch.aws.clients import clients_for
    from lakewatch.lake import notify
    from lakewatch.lake.generator import GenerateOptions
    from lakewatch.lake.sink import open_store
    from lakewatch.lake.write import write_lake
    from lakewatch.settings import load_settings

    settings = load_settings(region=args.region)
    clients = clients_for(settings)
    options = GenerateOptions(
        days=args.days,
        start=args.start,
        seed=args.seed,
        source_version=args.source_version,
        rows_per_day=args.rows_per_day,
        accounts=args.accounts,
        instances_per_account=args.instances,
        region=settings.region,
        anomalies_per_kind=args.anomalies_per_kind,
    )
    store = open_store(args.out, clients)
    notifier = None
    if args.notify:
        sqs = clients("sqs")
        notifier = lambda messages: notify.send(sqs, args.notify, messages)  # noqa: E731
    summary = write_lake(
        options,
        store,
        ground_truth_prefix=settings.ground_truth_prefix,
        notifier=notifier,
        account_id=settings.account_id,
    )
    for line in summary.lines():
        print(line)
    return 0


def cmd_lake_validate(args: argparse.Namespace) -> int:
    import io

    import pyarrow.parquet as pq

    from lakewatch.aws.clients import clients_for
    from lakewatch.lake.layout import OCSF_VERSION, parse_key
    from lakewatch.lake.sink import open_store
    from lakewatch.lake.validate import validate_table
    from lakewatch.settings import load_settings

    store = open_store(args.source, clients_for(load_settings()))
    checked = bad = 0
    for key in store.list("aws/"):
        parsed = parse_key(key)
        if parsed is None or parsed.version not in OCSF_VERSION:
            continue
        table = pq.read_table(io.BytesIO(store.get(key)))
        violations = validate_table(table, OCSF_VERSION[parsed.version], sample=args.sample)
        checked += min(table.num_rows, args.sample or table.num_rows)
        for v in violations[:5]:
            print(f"{key}: {v}")
        bad += len(violations)
    print(f"checked {checked:,} records: {bad} violations")
    return 1 if bad else 0


# local backend -------------------------------------------------------------------------------


def cmd_local_up(args: argparse.Namespace) -> int:
    from lakewatch.aws.clients import clients_for
    from lakewatch.local import emulator
    from lakewatch.local.bootstrap import bootstrap
    from lakewatch.settings import load_settings

    settings = load_settings()
    record = emulator.start(settings)
    resources = bootstrap(settings, clients_for(settings))
    where = settings.resolved_endpoint_url
    pid, log = (record.pid, record.log) if record else ("?", "-")
    print(f"emulator: {where} (pid {pid}, log {log})")
    print(f"lake bucket:    s3://{resources.lake_bucket}")
    print(f"results bucket: s3://{resources.results_bucket}")
    print(f"queue:          {resources.queue_url}")
    print(f"dead letters:   {resources.dlq_url}")
    return 0


def cmd_local_down(args: argparse.Namespace) -> int:
    from lakewatch.local.processes import ProcessRegistry
    from lakewatch.settings import load_settings

    stopped = ProcessRegistry(load_settings().run_dir).stop_all()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_local_status(args: argparse.Namespace) -> int:
    from lakewatch.local.processes import ProcessRegistry
    from lakewatch.settings import load_settings

    records = ProcessRegistry(load_settings().run_dir).records()
    for r in records:
        print(f"{r.name:<20} pid {r.pid:<8} {'running' if r.alive() else 'stopped'}  log {r.log}")
    if not records:
        print("no lakewatch processes")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lakewatch.demo.run import run_demo

    return run_demo(
        days=args.days,
        rows_per_day=args.rows_per_day,
        seed=args.seed,
        airflow_port=args.airflow_port,
    )


def cmd_local_router(args: argparse.Namespace) -> int:
    from lakewatch.serving.local import LocalEndpoints
    from lakewatch.serving.router import serve_router
    from lakewatch.settings import load_settings

    settings = load_settings()
    serve_router(
        str(settings.state_dir.resolve() / "endpoints"),
        settings.model_server_host,
        settings.model_server_port,
        heal=LocalEndpoints(settings).heal,
    )
    return 0


# model ---------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from lakewatch.aws.clients import clients_for
    from lakewatch.model.jobs import run_training
    from lakewatch.settings import load_settings

    hp_items = list(args.hp or [])
    extra = list(args.extra or [])
    while extra:  # SageMaker script mode passes hyperparameters as --name value
        name = extra.pop(0)
        if not name.startswith("--") or not extra:
            raise ValueError(f"unexpected argument {name!r}")
        hp_items.append(f"{name[2:].replace('-', '_')}={extra.pop(0)}")
    run_training(
        args.train,
        args.model_dir,
        args.validation,
        hp_items,
        clients=clients_for(load_settings()),
        max_bad_share=args.max_bad_share,
        device=args.device,
        allow_ipv6=not args.ipv4_only,
    )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from lakewatch.aws.clients import clients_for
    from lakewatch.model.jobs import score_file
    from lakewatch.settings import load_settings

    score_file(
        args.model_dir,
        args.input,
        args.output,
        clients=clients_for(load_settings()),
        flag_unknown=args.flag_unknown,
        use_detector=args.detector,
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from lakewatch.model.server import serve

    serve(args.model_dir, args.host, args.port, args.endpoint_name)
    return 0


# scorer --------------------------------------------------------------------------------------


def _scorer_handler(args: argparse.Namespace):
    """The handler from a deployment folder, with the scorer's environment in place."""
    import os
    from pathlib import Path

    from lakewatch.aws.clients import clients_for
    from lakewatch.scoring.local_runtime import load_handler
    from lakewatch.scoring.setup import APP_DIR, local_environment, scorer_config
    from lakewatch.settings import load_settings

    settings = load_settings()
    clients = clients_for(settings)
    if not os.environ.get("LAKEWATCH_ENDPOINT_NAME"):  # not started by a deploy: configure
        env = (
            local_environment(settings, scorer_config(settings, clients))
            if settings.backend == "local"
            else scorer_config(settings, clients).to_env()
        )
        os.environ.update(env)
    return settings, clients, load_handler(Path(args.app_dir) if args.app_dir else APP_DIR)


def cmd_scorer_run(args: argparse.Namespace) -> int:
    import os

    from lakewatch.scoring.local_runtime import EventSourceMapping, run_forever

    settings, clients, handler = _scorer_handler(args)
    sqs = clients("sqs")
    queue_url = args.queue_url or sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    mapping = EventSourceMapping(
        sqs,
        queue_url,
        handler,
        region=settings.region,
        account=os.environ.get("LAKEWATCH_ACCOUNT_ID", settings.account_id),
        batch_size=args.batch_size,
        batching_window_s=args.batching_window,
    )
    if args.idle_exit is not None:
        stats = mapping.run(idle_exit_s=args.idle_exit)
        print(json.dumps(stats.__dict__))
        return 0
    run_forever(mapping)
    return 0


def cmd_scorer_invoke(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lakewatch.scoring.local_runtime import LambdaContext

    settings, _, handler = _scorer_handler(args)
    event = json.loads(Path(args.event).read_text())
    response = handler(
        event, LambdaContext("lakewatch-scorer", settings.region, settings.account_id, 300)
    )
    print(json.dumps(response, indent=2))
    return 0


# operate: models and thresholds --------------------------------------------------------------


def _operate():
    from lakewatch.aws.clients import clients_for
    from lakewatch.settings import load_settings

    settings = load_settings()
    return settings, clients_for(settings)


def cmd_model_list(args: argparse.Namespace) -> int:
    from lakewatch.serving.deploy import model_registry

    settings, clients = _operate()
    registry = model_registry(settings, clients)
    state = registry.endpoint(settings.endpoint_name)
    for r in registry.models()[-args.last :]:
        mark = (
            "*" if r.model_id == state.current else ("-" if r.model_id == state.previous else " ")
        )
        auc = r.metrics.get("validation:discriminator_auc", "")
        print(
            f"{mark} {r.model_id}  created {r.created}  days {r.days[0]}..{r.days[-1]}  "
            f"algorithm {r.algorithm}  validation AUC {auc}"
        )
    print(
        f"\n{settings.endpoint_name}: serving {state.current or '-'} "
        f"(previous {state.previous or '-'}); * current, - previous"
    )
    for h in state.history[-args.last :]:
        print(f"  {h['at']}  {h['action']:<8} {h['model_id']}  {h.get('reason', '')}")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from lakewatch.serving.deploy import rollback_model

    settings, clients = _operate()
    result = rollback_model(settings, clients, args.to or "", args.reason)
    print(f"{settings.endpoint_name} serves {result.model_id} again (was {result.replaced})")
    if result.threshold_version is None:
        print(
            "no threshold was ever published for it: trigger lakewatch_recalibrate now; "
            "until then the scorer compares with the newer model's threshold"
        )
    else:
        print(
            f"threshold: {settings.threshold_parameter} version {result.threshold_version} "
            "(the last one published for this model)"
        )
    if result.pairs_changed:
        print("the models use different pair views: trigger lakewatch_scorer_deploy")
    return 0


def cmd_threshold_show(args: argparse.Namespace) -> int:
    from lakewatch.threshold.publish import history

    settings, clients = _operate()
    versions = history(clients("ssm"), settings.threshold_parameter)
    for v in versions[-args.last :]:
        print(
            f"version {v['version']:>3}  {v['modified'][:19]}  threshold {v.get('threshold')}  "
            f"model {v.get('model_id')}  night {v.get('day')}  fpr {v.get('fpr')}  "
            f"auc {v.get('auc')}"
        )
    return 0


def cmd_threshold_rollback(args: argparse.Namespace) -> int:
    from lakewatch.threshold.publish import history, restore

    settings, clients = _operate()
    ssm = clients("ssm")
    versions = history(ssm, settings.threshold_parameter)
    if args.to_version is None and len(versions) < 2:
        print(f"{settings.threshold_parameter} has no earlier version", file=sys.stderr)
        return 1
    target = args.to_version if args.to_version is not None else versions[-2]["version"]
    new = restore(ssm, settings.threshold_parameter, target)
    print(
        f"{settings.threshold_parameter}: version {target}'s value is live again as "
        f"version {new}; the scorer picks it up within its cache TTL (60 s)"
    )
    return 0


# parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakewatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    lake = sub.add_parser("lake", help="synthetic Security Lake").add_subparsers(
        dest="lake_command", required=True
    )
    gen = lake.add_parser("generate", help="write a synthetic Security Lake with anomalies")
    gen.add_argument("--out", required=True, help="s3://bucket[/prefix] or a local folder")
    gen.add_argument("--days", type=_positive, required=True)
    gen.add_argument("--start", type=_date, help="first day (default: DAYS days ago)")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--source-version", choices=("1.0", "2.0"), default="2.0")
    gen.add_argument("--rows-per-day", type=_positive, default=200_000)
    gen.add_argument("--accounts", type=_positive, default=3)
    gen.add_argument("--instances", type=_positive, default=20, help="instances per account")
    gen.add_argument(
        "--anomalies-per-kind",
        type=int,
        default=None,
        help="injected events of each kind per day (default: one per account)",
    )
    gen.add_argument("--region", default=None)
    gen.add_argument(
        "--notify",
        metavar="QUEUE_URL",
        help="send Security Lake's subscriber notification for each object",
    )
    gen.set_defaults(func=cmd_lake_generate)
    val = lake.add_parser("validate", help="check lake objects against the OCSF JSON schema")
    val.add_argument("source", help="s3://bucket[/prefix] or a local folder")
    val.add_argument("--sample", type=int, default=None, help="records per object to check")
    val.set_defaults(func=cmd_lake_validate)

    local = sub.add_parser("local", help="the local backend's emulator and processes")
    lsub = local.add_subparsers(dest="local_command", required=True)
    lsub.add_parser("up", help="start the AWS emulator and create resources").set_defaults(
        func=cmd_local_up
    )
    lsub.add_parser("down", help="stop every process lakewatch started").set_defaults(
        func=cmd_local_down
    )
    lsub.add_parser("status", help="list lakewatch's processes").set_defaults(func=cmd_local_status)
    lsub.add_parser("router", help="run the local endpoint router (foreground)").set_defaults(
        func=cmd_local_router
    )

    train = sub.add_parser("train", help="train IP Insights (also SageMaker script mode)")
    train.add_argument("--train", help="CSV file, folder or s3:// prefix (SM_CHANNEL_TRAIN)")
    train.add_argument("--model-dir", help="where model.tar.gz goes (SM_MODEL_DIR)")
    train.add_argument("--validation", help="validation channel (SM_CHANNEL_VALIDATION)")
    train.add_argument(
        "--hp",
        action="append",
        metavar="NAME=VALUE",
        help="a hyperparameter, SageMaker's names (repeatable)",
    )
    train.add_argument(
        "--max-bad-share",
        type=float,
        default=0.01,
        help="fail when more than this share of rows is bad (default 0.01)",
    )
    train.add_argument(
        "--ipv4-only",
        action="store_true",
        help="count IPv6 rows as bad, as the built-in algorithm does",
    )
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    train.set_defaults(func=cmd_train)

    score = sub.add_parser("score", help="score a CSV of entity,address pairs")
    score.add_argument("--model-dir", required=True)
    score.add_argument("--input", required=True, help="CSV file, folder or s3:// prefix")
    score.add_argument("--output", help="file or s3:// key (default: stdout)")
    score.add_argument(
        "--flag-unknown",
        action="store_true",
        help="add a known_entity column (false: entity never seen in training)",
    )
    score.add_argument(
        "--detector",
        action="store_true",
        help="print lakewatch's combined detector score (model + history evidence, the "
        "log-odds of normal) instead of the model's dot_product; higher = more normal",
    )
    score.set_defaults(func=cmd_score)

    srv = sub.add_parser("serve", help="serve a model with SageMaker's inference protocol")
    srv.add_argument("--model-dir", required=True)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument(
        "--endpoint-name",
        default=None,
        help="answer only /endpoints/<this>/invocations (and /invocations)",
    )
    srv.set_defaults(func=cmd_serve)

    scorer = sub.add_parser("scorer", help="the real-time scorer (Lambda handler)")
    ssub = scorer.add_subparsers(dest="scorer_command", required=True)
    run = ssub.add_parser("run", help="poll the subscriber queue like Lambda's SQS mapping")
    run.add_argument("--app-dir", help="deployment folder holding app.py (default: the repo's)")
    run.add_argument("--queue-url", help="default: the configured subscriber queue")
    run.add_argument("--batch-size", type=int, default=10)
    run.add_argument("--batching-window", type=float, default=1.0, help="seconds")
    run.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        help="stop after the queue has been empty this many seconds",
    )
    run.set_defaults(func=cmd_scorer_run)
    inv = ssub.add_parser("invoke", help="run the handler once on a Lambda SQS event file")
    inv.add_argument("--event", required=True, help="a Lambda SQS event JSON file")
    inv.add_argument("--app-dir", help="deployment folder holding app.py (default: the repo's)")
    inv.set_defaults(func=cmd_scorer_invoke)

    model = sub.add_parser("model", help="registered models and the endpoint (operate)")
    msub = model.add_subparsers(dest="model_command", required=True)
    mlist = msub.add_parser("list", help="registered models and the endpoint's deploy history")
    mlist.add_argument("--last", type=_positive, default=10)
    mlist.set_defaults(func=cmd_model_list)
    mroll = msub.add_parser(
        "rollback", help="serve the previous (or --to) model again, with its last threshold"
    )
    mroll.add_argument("--to", help="model id (default: the endpoint's previous model)")
    mroll.add_argument("--reason", default="manual rollback", help="recorded in the registry")
    mroll.set_defaults(func=cmd_model_rollback)

    threshold = sub.add_parser("threshold", help="the published anomaly threshold (operate)")
    tsub = threshold.add_subparsers(dest="threshold_command", required=True)
    tshow = tsub.add_parser("show", help="the threshold's published versions")
    tshow.add_argument("--last", type=_positive, default=10)
    tshow.set_defaults(func=cmd_threshold_show)
    troll = tsub.add_parser("rollback", help="publish an earlier version's value again")
    troll.add_argument("--to-version", type=_positive, help="default: the one before the current")
    troll.set_defaults(func=cmd_threshold_rollback)

    demo = sub.add_parser("demo", help="run the main job on the local backend")
    demo.add_argument("--days", type=_positive, default=6)
    demo.add_argument("--rows-per-day", type=_positive, default=40_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--airflow-port", type=int, default=8280, help="Airflow UI/API port")
    demo.set_defaults(func=cmd_demo)

    from lakewatch import cli_findings

    cli_findings.register(sub, _date)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.func is not cmd_train:  # only train takes SageMaker's --name value form
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, TimeoutError, FileNotFoundError, OSError) as err:
        print(f"lakewatch: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
