"""The review page's app on the emulator: findings ranked with their evidence, and the
analyst's label and suppress actions recorded under the authenticated name."""

from datetime import date

import pytest
from fastapi import HTTPException, Request
from fastapi.testclient import TestClient

from lakewatch.lake.sink import S3Store
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.review import feedback
from lakewatch.review.desk import Desk
from lakewatch.review.usual import UsualByModel
from lakewatch.review.web import create_app

DAY = "2026-11-30"


def _analyst(request: Request) -> str:
    """Stands in for Airflow's authentication: the caller named by a header, else 401."""
    who = request.headers.get("x-user")
    if not who:
        raise HTTPException(401, "not authenticated")
    return who


@pytest.fixture
def page(reviewed):
    settings, store, uids = reviewed
    # the findings' model and its training window, for the entity's usual prefixes and peers
    window = "i-1,10.0.1.7\ni-1,10.0.1.7\ni-1,52.94.230.1\ni-5,10.0.1.9\ni-2/in,10.9.8.1\n"
    store.put("models/training/ipi-x/part-0.csv", window.encode())
    Registry(store, settings.models_prefix).register(
        ModelRecord(
            "ipi-x",
            "x",
            "lakewatch",
            {},
            {},
            [],
            extra={"train_parts": ["models/training/ipi-x/part-0.csv"]},
        )
    )
    results = S3Store(store.s3, settings.results_bucket_name)
    desk = Desk(
        results,
        settings.findings_prefix,
        settings.feedback_prefix,
        usual_by_model=UsualByModel(results, settings.models_prefix),
    )
    app = create_app(lambda: desk, _analyst, today=lambda: date(2026, 11, 30))
    client = TestClient(app, headers={"x-user": "carol"})
    return client, settings, store, uids


def test_the_page_lists_the_days_findings_ranked_with_their_evidence(page):
    client, _, _, (worst, mild) = page
    html = client.get("/").text  # the day defaults to today (here the fixture's day)
    assert html.index(worst) < html.index(mild)  # most severe first
    assert "45.110.185.181" in html and "ingress_peer" in html and "i-2/in" in html
    assert 'id="analyst">carol<' in html and "unlabelled" in html
    assert "No findings on 2026-11-29" in client.get("/", params={"day": "2026-11-29"}).text
    # what each entity usually does, beside its finding
    assert "Usually, for <code>i-1</code>" in html and "<code>10.0.1.0/24</code> (2)" in html
    assert "<code>i-5</code> (1 /24 shared)" in html
    assert "Usually, for <code>i-2/in</code>" in html and "<code>10.9.8.0/24</code> (1)" in html


def test_label_records_the_verdict_under_the_authenticated_name(page):
    client, settings, store, (_, mild) = page
    response = client.post(
        "/label",
        data={"day": DAY, "uid": mild, "verdict": "false_positive", "note": "backup"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == f"./?day={DAY}"
    [label] = feedback.labels(store, settings.feedback_prefix)
    assert (label.finding_uid, label.verdict, label.who, label.note) == (
        mild,
        "false_positive",
        "carol",
        "backup",
    )
    assert label.entity == "i-2/in" and label.ip == "10.9.8.7"  # as the views name the pair
    assert 'class="finding verdict-false_positive"' in client.get("/").text


def test_suppress_records_an_expiring_suppression(page):
    client, settings, store, _ = page
    response = client.post(
        "/suppress",
        data={"day": DAY, "entity": "i-1", "target": "45.110.185.0/24", "days": "3"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    [sup] = feedback.suppressions(store, settings.feedback_prefix)
    assert (sup.entity, sup.cidr, sup.view, sup.who) == ("i-1", "45.110.185.0/24", "", "carol")
    assert sup.covers("i-1", "45.110.185.181", "egress_peer")


def test_bad_input_says_what_was_wrong_and_stores_nothing(page):
    client, settings, store, _ = page
    bad = client.post(
        "/suppress", data={"day": DAY, "entity": "i-1", "target": "not-an-ip", "days": "3"}
    )
    assert bad.status_code == 400 and 'role="alert">not suppressed:' in bad.text
    assert "not-an-ip" in bad.text and "IPv4 or IPv6" in bad.text
    unknown = client.post("/label", data={"day": DAY, "uid": "zzzz", "verdict": "true_positive"})
    assert unknown.status_code == 400 and "0 findings match" in unknown.text
    wrong = client.post("/label", data={"day": DAY, "uid": "zzzz", "verdict": "maybe"})
    assert wrong.status_code == 400
    assert list(store.list(settings.feedback_prefix)) == []


def test_nobody_unauthenticated_reads_or_writes(page):
    client, settings, store, (worst, _) = page
    anonymous = TestClient(client.app)
    assert anonymous.get("/").status_code == 401
    refused = anonymous.post("/label", data={"day": DAY, "uid": worst, "verdict": "true_positive"})
    assert refused.status_code == 401
    assert list(store.list(settings.feedback_prefix)) == []


def test_a_form_posted_from_another_site_is_refused(page):
    client, settings, store, (worst, _) = page
    form = {"day": DAY, "uid": worst, "verdict": "false_positive"}
    forged = client.post("/label", data=form, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "another site" in forged.text
    framed = client.post("/label", data=form, headers={"Origin": "null"})
    assert framed.status_code == 403
    referred = client.post(
        "/suppress",
        data={"day": DAY, "entity": "i-1", "target": "10.0.0.1", "days": "3"},
        headers={"Referer": "https://evil.example/page"},
    )
    assert referred.status_code == 403
    assert list(store.list(settings.feedback_prefix)) == []
    own = client.post(
        "/label", data=form, headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert own.status_code == 303  # the page's own form
    proxied = client.post(
        "/label",
        data=form,
        headers={
            "Origin": "https://airflow.example.com",
            "X-Forwarded-Host": "airflow.example.com",
        },
        follow_redirects=False,
    )
    assert proxied.status_code == 303  # behind a proxy that passes the host on


def test_a_signin_is_listed_beside_the_network_findings_with_principal_mfa_and_outcome(page):
    from tests.review.conftest import PRINCIPAL, add_signin_finding

    client, settings, store, (worst, _) = page
    signin = add_signin_finding(settings, store)
    html = client.get("/").text
    row = html[html.index(f'data-uid="{signin}"') :]
    row = row[: row.index("</tr>")]
    assert f'<td class="principal">principal <code>{PRINCIPAL}</code></td>' in row
    assert "185.220.101.9" in row and "<td>signin</td>" in row
    assert '<td class="signin">no MFA, Failure</td>' in row
    network = html[html.index(f'data-uid="{worst}"') :]
    network = network[: network.index("</tr>")]
    assert '<td class="instance">i-1</td>' in network and '<td class="signin">-</td>' in network
