"""``lakewatch local``: the local backend's emulator and processes."""

from __future__ import annotations

import argparse


def cmd_local_up(args: argparse.Namespace) -> int:
    from lakewatch.backends import backend_for, clients_for
    from lakewatch.local import emulator
    from lakewatch.settings import load_settings

    settings = load_settings()
    record = emulator.start(settings)
    resources = backend_for(settings).provision(clients_for(settings))
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


def cmd_local_router(args: argparse.Namespace) -> int:
    from lakewatch.local.endpoints import LocalEndpoints
    from lakewatch.local.router import serve_router
    from lakewatch.settings import load_settings

    settings = load_settings()
    serve_router(
        str(settings.state_dir.resolve() / "endpoints"),
        settings.model_server_host,
        settings.model_server_port,
        heal=LocalEndpoints(settings).heal,
    )
    return 0


def register(sub) -> None:
    """Add this group's commands to the ``lakewatch`` parser."""
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
