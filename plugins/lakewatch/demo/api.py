"""The few calls of Airflow's REST API the demo makes, as a user does from the UI."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import date
from typing import Any

from lakewatch.demo.supervise import Supervisor, progress, wait

FINISHED = {"success", "failed"}


class AirflowAPI:
    def __init__(self, url: str, username: str, password: str):
        self.url = url.rstrip("/")
        self.username, self.password = username, password
        self._token = ""

    def _token_now(self) -> str:
        if not self._token:
            body = json.dumps({"username": self.username, "password": self.password}).encode()
            req = urllib.request.Request(
                f"{self.url}/auth/token",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                self._token = json.loads(resp.read())["access_token"]
        return self._token

    def call(self, method: str, path: str, body: Any = None, attempts: int = 10) -> Any:
        """One API call; a 503 (the API server busy or restarting) is retried with backoff, a
        401 (the token expired) once with a new token."""
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, attempts + 1):
            req = urllib.request.Request(
                f"{self.url}/api/v2{path}",
                data=data,
                method=method,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self._token_now()}",
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    payload = resp.read()
                return json.loads(payload) if payload else None
            except urllib.error.HTTPError as err:
                detail = err.read().decode()[:300]
                if err.code == 503 and attempt < attempts:
                    time.sleep(min(2.0 * attempt, 10))
                    continue
                if err.code == 401 and attempt == 1:
                    self._token = ""
                    continue
                raise RuntimeError(f"Airflow API {method} {path}: {err.code} {detail}") from None
        raise AssertionError("unreachable")

    def wait_for_dags(
        self, dag_ids: list[str], timeout: float = 180, supervisor: Supervisor | None = None
    ) -> None:
        def poll() -> tuple[bool, str, None]:
            known = {d["dag_id"] for d in self.call("GET", "/dags?limit=100")["dags"]}
            missing = sorted(set(dag_ids) - known)
            return not missing, f"not parsed yet: {', '.join(missing)}", None

        wait("DAGs loading (DAG processor)", poll, timeout, supervisor)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": True})

    def backfill(self, dag_id: str, start: date, end: date, max_active_runs: int = 2) -> Any:
        return self.call(
            "POST",
            "/backfills",
            {
                "dag_id": dag_id,
                "from_date": f"{start}T00:00:00Z",
                "to_date": f"{end}T00:00:00Z",
                "run_backwards": False,
                "max_active_runs": max_active_runs,
                "reprocess_behavior": "none",
                "dag_run_conf": {},
            },
        )

    def trigger(
        self, dag_id: str, conf: dict | None = None, logical_date: date | None = None
    ) -> dict:
        when = f"{logical_date.isoformat()}T00:00:00Z" if logical_date else None
        return self.call(
            "POST", f"/dags/{dag_id}/dagRuns", {"logical_date": when, "conf": conf or {}}
        )

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float, supervisor: Supervisor | None = None
    ) -> dict:
        """Until one run has finished, whatever its state."""

        def poll() -> tuple[bool, str, dict]:
            run = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            return run["state"] in FINISHED, f"{run_id} {run['state']}", run

        return wait(f"{dag_id} run", poll, timeout, supervisor)

    def wait_for_runs(
        self,
        dag_id: str,
        count: int,
        timeout: float,
        since: float = 0,
        settled: bool = True,
        supervisor: Supervisor | None = None,
    ) -> list[dict]:
        """Until ``count`` runs (started after ``since``, epoch s) have finished, printing
        their progress; past ``timeout`` fails with the states it saw."""

        def poll() -> tuple[bool, str, list[dict]]:
            runs = [
                r
                for r in self.runs(dag_id)
                if epoch(r.get("run_after") or r.get("queued_at")) >= since
            ]
            done = [r for r in runs if r["state"] in FINISHED]
            finished = len(done) >= count and (not settled or len(done) == len(runs))
            return finished, progress([r["state"] for r in runs], max(count, len(runs))), runs

        return wait(f"{dag_id} runs", poll, timeout, supervisor)


def epoch(value: str | None) -> float:
    from datetime import datetime

    if not value:
        return 0.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
