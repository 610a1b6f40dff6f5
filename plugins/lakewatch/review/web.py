"""The review page: a day's findings ranked, each with its evidence, and the analyst's actions
(label true or false positive, suppress), as a small FastAPI app.

It knows nothing of Airflow: ``plugins/lakewatch_review.py`` mounts it in Airflow's API
server, gives it the user Airflow authenticated, and adds it to the UI's navigation. Forms
post back to the app and redirect to the page (relative URLs, so it works under any prefix).
"""

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from lakewatch.review.desk import Desk
from lakewatch.review.feedback import VERDICTS, VIEWS
from lakewatch.review.rows import FindingNotFound

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def evidence_of(finding: dict[str, Any]) -> list[dict[str, str]]:
    """A finding's pairs as the page lists them: view, entity, address, score."""
    out = []
    for ev in finding.get("evidences") or []:
        data = dict(ev.get("data") or {})
        ends = [ev.get("dst_endpoint") or {}, ev.get("src_endpoint") or {}]
        ip = next((e["ip"] for e in ends if e.get("ip")), "")
        out.append(
            {
                "view": data.get("view", ""),
                "entity": data.get("entity", ""),
                "ip": str(ip),
                "score": data.get("score", ""),
            }
        )
    return out


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (cross-site request forgery): a browser names
    the page a POST came from in ``Origin`` (or at least ``Referer``), and it must be this
    server (its ``Host``, or the ``X-Forwarded-Host`` a proxy in front of it passes on).
    Clients that send neither (scripts with a bearer token) are not browsers."""
    origin = request.headers.get("origin")
    claimed = origin or request.headers.get("referer")
    if not claimed:
        return
    ours = {request.headers.get("host"), request.headers.get("x-forwarded-host")} - {None}
    if origin == "null" or urlsplit(claimed).netloc not in ours:
        raise HTTPException(403, f"refused a form posted from another site ({claimed})")


def _review_page(d: Desk, day: date, who: str, message: str, status: int) -> HTMLResponse:
    """The review page for ``day``, shown by the page route and, with ``message`` and a 400,
    by an action that failed: the desk's findings with verdict, evidence and usual traffic."""
    found = d.findings(day)
    by_uid = {f["finding_info"]["uid"]: f for f in found}
    rows = [
        {
            "row": row,
            "verdict": verdict,
            "evidence": evidence_of(by_uid[row.uid]),
            "usual": d.usual(row),
        }
        for row, verdict in d.reviewed(day, found)
    ]
    message = "; ".join(m for m in (message, d.evidence_note) if m)
    html = _TEMPLATES.get_template("review.html").render(
        day=day.isoformat(),
        rows=rows,
        who=who,
        message=message,
        verdicts=VERDICTS,
        views=VIEWS,
    )
    return HTMLResponse(html, status_code=status)


def create_app(
    desk: Callable[[], Desk],
    analyst: Callable[..., Any],
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> FastAPI:
    """``desk`` opens the results bucket; ``analyst`` is a FastAPI dependency naming the
    authenticated user (it refuses everyone else)."""
    app = FastAPI(title="lakewatch review", docs_url=None, redoc_url=None, openapi_url=None)
    Who = Annotated[str, Depends(analyst)]

    def page(day: date, who: str, message: str = "", status: int = 200) -> HTMLResponse:
        return _review_page(desk(), day, who, message, status)

    @app.get("/", response_class=HTMLResponse)
    def review(who: Who, day: Annotated[date | None, Query()] = None) -> HTMLResponse:
        return page(day or today(), who)

    @app.post("/label", dependencies=[Depends(same_origin)])
    def label(
        who: Who,
        day: Annotated[date, Form()],
        uid: Annotated[str, Form()],
        verdict: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Any:
        d = desk()
        try:
            d.label(day, uid, verdict, note, who)
        except (FindingNotFound, ValueError) as err:
            return page(day, who, f"not labelled: {err}", status=400)
        if d.security_hub_note:  # labelled; the analyst should know Security Hub lags
            return _review_page(d, day, who, d.security_hub_note, 200)
        return RedirectResponse(f"./?day={day.isoformat()}", status_code=303)

    @app.post("/suppress", dependencies=[Depends(same_origin)])
    def suppress(
        who: Who,
        day: Annotated[date, Form()],
        entity: Annotated[str, Form()],
        target: Annotated[str, Form()],
        days: Annotated[int, Form()],
        view: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
    ) -> Any:
        address, cidr = (None, target) if "/" in target else (target, None)
        try:
            desk().suppress(entity, address, cidr, view or None, days, note, who)
        except ValueError as err:
            return page(day, who, f"not suppressed: {err}", status=400)
        return RedirectResponse(f"./?day={day.isoformat()}", status_code=303)

    return app
