"""The review page in a real browser: Debian's chromium, headless, driven by playwright,
against the demo's Airflow (its API server loads ``plugins/lakewatch_review.py``)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass, field

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class ReviewCheck:
    anonymous_status: int = 0  # GET /lakewatch/ with no credentials
    nav_link: bool = False  # "lakewatch review" in the UI's navigation
    analyst: str = ""  # the name the page shows
    rows: int = 0  # findings listed
    signin_rows: int = 0  # ... of them sign-ins, listed with their principal
    signin_text: str = ""  # the first sign-in's principal and its MFA and outcome cell
    labelled_uid: str = ""
    verdict_after: str = ""  # the first finding's verdict once labelled in the page
    usual: str = ""  # what the first pair's entity usually does, as its details show it
    rcf_rows: int = 0  # rows of Random Cut Forest findings (and the incidents they opened)
    notes: list[str] = field(default_factory=list)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def _token(ui: str, username: str, password: str) -> str:
    req = urllib.request.Request(
        f"{ui}/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["access_token"]


def check_review_page(ui: str, username: str, password: str) -> ReviewCheck:
    """Sign in as Airflow does (its JWT in the UI's ``_token`` cookie), find the page in the
    navigation, open it, and label the top finding a false positive."""
    from playwright.sync_api import sync_playwright

    result = ReviewCheck(anonymous_status=_status(f"{ui}/lakewatch/"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": "_token", "value": _token(ui, username, password), "url": ui}]
            )
            page = context.new_page()
            page.goto(f"{ui}/", wait_until="networkidle")
            link = page.get_by_role("link", name="lakewatch review")
            link.first.wait_for(timeout=30_000)
            result.nav_link = True
            link.first.click()
            frame = page.frame_locator("iframe").first
            frame.locator("#analyst").wait_for(timeout=30_000)
            result.analyst = frame.locator("#analyst").inner_text()
            rows = frame.locator("tr.finding")
            result.rows = rows.count()
            principals = frame.locator("tr.finding td.principal")
            result.signin_rows = principals.count()
            if result.signin_rows:
                # the first sign-in row's own cells (a `has` locator is queried inside each
                # row, so it must be relative to the row: CSS :has says so)
                signin_row = frame.locator("tr.finding:has(td.principal)").first
                result.signin_text = (
                    f"{signin_row.locator('td.principal').inner_text()} | "
                    f"{signin_row.locator('td.signin').inner_text()}"
                )
            # Random Cut Forest's instance-hours, ranked among the pairs (their view's cell)
            result.rcf_rows = frame.locator("tr.finding", has_text="rcf_features").count()
            # the first anomalous pair (the top rows may be RCF hours, which name no address
            # and so have no usual prefixes): labelled, its details opened
            pair_row = frame.locator("tr.finding", has_text="anomalous_pair").first
            if result.rows and pair_row.count():
                result.labelled_uid = pair_row.get_attribute("data-uid") or ""
                detail = frame.locator(f'tr.finding[data-uid="{result.labelled_uid}"] + tr.detail')
                detail.locator("details summary").click()
                usual = detail.locator("p.usual")
                if usual.count():
                    result.usual = usual.inner_text()
                form = detail.locator("form", has_text="false positive")
                form.locator("input[name=note]").fill("seen in the browser test")
                form.get_by_role("button", name="false positive").click()
                first = frame.locator(f'tr.finding[data-uid="{result.labelled_uid}"]')
                first.locator("td.verdict", has_text="false_positive").wait_for(timeout=30_000)
                page.reload(wait_until="networkidle")  # the label persists: read back from S3
                again = page.frame_locator("iframe").first.locator(
                    f'tr.finding[data-uid="{result.labelled_uid}"] td.verdict'
                )
                again.wait_for(timeout=30_000)
                result.verdict_after = again.inner_text()
        finally:
            browser.close()
    return result
