"""The lakewatch review page in the Airflow UI: an Airflow 3 plugin.

It mounts ``lakewatch.review.web`` in Airflow's API server under ``/lakewatch`` and adds
"lakewatch review" to the UI's navigation. Airflow does not authenticate plugin apps, so every
route here asks Airflow's auth manager for the caller (the UI's session cookie or a bearer
token, ``get_user``): anyone Airflow would refuse gets 401/403, and the analyst's name goes
on each label and suppression.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends

from lakewatch.orchestration.review import desk
from lakewatch.review.web import create_app


async def analyst(user: Annotated[BaseUser, Depends(get_user)]) -> str:
    return user.get_name()


app = create_app(desk, analyst)


class LakewatchReviewPlugin(AirflowPlugin):
    name = "lakewatch_review"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": "/lakewatch", "name": "lakewatch review"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "lakewatch review",
            "href": "lakewatch/",
            "destination": "nav",
            "url_route": "lakewatch-review",
        }
    ]
