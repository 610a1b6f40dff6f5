"""``lakewatch train | score | serve``: IP Insights and Random Cut Forest outside Airflow
(train is also SageMaker's script-mode entry)."""

from __future__ import annotations

import argparse


def cmd_train(args: argparse.Namespace) -> int:
    from lakewatch.backends import clients_for
    from lakewatch.settings import load_settings
    from lakewatch.training.jobs import run_training

    hp_items = list(args.hp or [])
    extra = list(args.extra or [])
    while extra:  # SageMaker script mode passes hyperparameters as --name value
        name = extra.pop(0)
        if not name.startswith("--") or not extra:
            raise ValueError(f"unexpected argument {name!r}")
        hp_items.append(f"{name[2:].replace('-', '_')}={extra.pop(0)}")
    if args.algorithm == "rcf":
        from lakewatch.training.rcf_jobs import run_rcf_training

        run_rcf_training(args.train, args.model_dir, hp_items, clients=clients_for(load_settings()))
        return 0
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
    from lakewatch.backends import clients_for
    from lakewatch.model.artifact import algorithm_of
    from lakewatch.settings import load_settings
    from lakewatch.training.jobs import score_file

    if algorithm_of(args.model_dir, default="ipinsights") == "rcf":
        from lakewatch.training.rcf_jobs import score_rcf_file

        score_rcf_file(
            args.model_dir, args.input, args.output, clients=clients_for(load_settings())
        )
        return 0
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
    from lakewatch.local.model_server import serve

    serve(args.model_dir, args.host, args.port, args.endpoint_name)
    return 0


def register(sub) -> None:
    """Add this group's commands to the ``lakewatch`` parser."""
    train = sub.add_parser(
        "train", help="train IP Insights or Random Cut Forest (also SageMaker script mode)"
    )
    train.add_argument(
        "--algorithm",
        choices=["ipinsights", "rcf"],
        default="ipinsights",
        help="ipinsights (entity,address pairs; the default) or rcf (a headerless numeric CSV, "
        "SageMaker RCF's text/csv;label_size=0)",
    )
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

    score = sub.add_parser(
        "score",
        help="score a CSV: entity,address pairs (IP Insights) or feature rows (RCF: one "
        "score a line, higher = more anomalous)",
    )
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
