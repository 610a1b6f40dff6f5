"""``lakewatch scorer``: the real-time scorer's handler, run like Lambda runs it."""

from __future__ import annotations

import argparse
import json


def _scorer_handler(args: argparse.Namespace):
    """The handler from a deployment folder, with the scorer's environment in place."""
    import os
    from pathlib import Path

    from lakewatch.backends import backend_for, clients_for
    from lakewatch.local.lambda_runtime import SandboxHandler
    from lakewatch.serving.lambda_config import APP_DIR, scorer_config
    from lakewatch.settings import load_settings

    settings = load_settings()
    clients = clients_for(settings)
    if not os.environ.get("LAKEWATCH_ENDPOINT_NAME"):  # not started by a deploy: configure
        backend = backend_for(settings)
        os.environ.update(backend.scorer_environment(clients, scorer_config(settings, clients)))
    layer = Path(args.layer_dir) if getattr(args, "layer_dir", None) else None
    app_dir = Path(args.app_dir) if args.app_dir else APP_DIR
    return settings, clients, SandboxHandler(app_dir, layer_dir=layer)


def cmd_scorer_run(args: argparse.Namespace) -> int:
    import os

    from lakewatch.local.lambda_runtime import EventSourceMapping, run_forever

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

    from lakewatch.local.lambda_runtime import LambdaContext

    settings, _, handler = _scorer_handler(args)
    event = json.loads(Path(args.event).read_text())
    response = handler(
        event, LambdaContext("lakewatch-scorer", settings.region, settings.account_id, 300)
    )
    print(json.dumps(response, indent=2))
    return 0


def cmd_scorer_package(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lakewatch.serving.lambda_artifacts import write_artifacts
    from lakewatch.serving.lambda_layer import LAMBDA_PYTHON

    out = Path(args.out)
    manifest = write_artifacts(out, python=args.python or LAMBDA_PYTHON, arch=args.arch)
    for name in ("function", "layer"):
        part = manifest[name]
        print(
            f"{out / (name + '.zip')}: {part['zipped_bytes'] / 1e6:.1f} MB zipped, "
            f"{part['unzipped_bytes'] / 1e6:.1f} MB unzipped, sha256 {part['sha256'][:16]}"
        )
    print(
        f"{manifest['runtime']} {manifest['architecture']}: "
        f"{manifest['unzipped_total_bytes'] / 2**20:.1f} MiB of Lambda's "
        f"{manifest['unzipped_limit_bytes'] / 2**20:.0f} MiB unzipped; {out / 'manifest.json'}"
    )
    return 0


def register(sub) -> None:
    """Add this group's commands to the ``lakewatch`` parser."""
    scorer = sub.add_parser("scorer", help="the real-time scorer (Lambda handler)")
    ssub = scorer.add_subparsers(dest="scorer_command", required=True)
    run = ssub.add_parser("run", help="poll the subscriber queue like Lambda's SQS mapping")
    run.add_argument("--app-dir", help="deployment folder holding app.py (default: the repo's)")
    run.add_argument(
        "--layer-dir",
        help="an unpacked layer.zip: the function then sees only its files, the layer and "
        "the runtime's boto3, as on Lambda (default: this environment's packages)",
    )
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
    inv.add_argument("--layer-dir", help="an unpacked layer.zip (see scorer run)")
    inv.set_defaults(func=cmd_scorer_invoke)
    pkg = ssub.add_parser(
        "package", help="write function.zip, layer.zip and manifest.json for Lambda"
    )
    pkg.add_argument("--out", required=True, help="folder to write the artifacts into")
    pkg.add_argument(
        "--python", default=None, help="the runtime's Python (default: the Lambda runtime's)"
    )
    pkg.add_argument("--arch", choices=("x86_64", "aarch64"), default="x86_64")
    pkg.set_defaults(func=cmd_scorer_package)
