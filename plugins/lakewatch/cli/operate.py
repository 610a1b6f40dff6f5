"""``lakewatch model | threshold``: the deployed model and the published threshold (operate)."""

from __future__ import annotations

import argparse
import sys

from lakewatch.cli.common import context, positive


def cmd_model_list(args: argparse.Namespace) -> int:
    from lakewatch.serving.deploy import model_registry

    settings, clients = context()
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
    from lakewatch.backends import backend_for
    from lakewatch.serving.deploy import rollback_model

    settings, clients = context()
    result = rollback_model(settings, clients, backend_for(settings), args.to or "", args.reason)
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

    settings, clients = context()
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

    settings, clients = context()
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


def register(sub) -> None:
    """Add this group's commands to the ``lakewatch`` parser."""
    model = sub.add_parser("model", help="registered models and the endpoint (operate)")
    msub = model.add_subparsers(dest="model_command", required=True)
    mlist = msub.add_parser("list", help="registered models and the endpoint's deploy history")
    mlist.add_argument("--last", type=positive, default=10)
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
    tshow.add_argument("--last", type=positive, default=10)
    tshow.set_defaults(func=cmd_threshold_show)
    troll = tsub.add_parser("rollback", help="publish an earlier version's value again")
    troll.add_argument("--to-version", type=positive, help="default: the one before the current")
    troll.set_defaults(func=cmd_threshold_rollback)
