"""Atlassian Statuspage, optional: the first status update creates the page's incident, later ones update it.

REST API v1: POST /v1/pages/{page_id}/incidents and PATCH /v1/pages/{page_id}/incidents/{incident_id},
authenticated with `Authorization: OAuth <key>`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.errors import BotError
from bot.incident import Incident
from bot.settings import Settings

# Statuspage's incident states for our three kinds of update.
STATES = {"initial": "investigating", "progress": "identified", "resolved": "resolved"}
TIMEOUT_S = 10.0


class StatuspageError(BotError):
    pass


def split_update(plain: str) -> tuple[str, str]:
    """The first line names the page incident; the rest is the update's body."""
    first, _, rest = plain.strip().partition("\n")
    return first.strip()[:255], rest.strip() or first.strip()


async def publish(settings: Settings, incident: Incident, kind: str, plain: str) -> str | None:
    """Create or update the page incident; its id, or None when there is nothing to do.

    A resolved update for an incident the page never showed is not published: announcing an incident
    only once it is over would surprise the page's readers.
    """
    assert settings.statuspage_api_key is not None and settings.statuspage_page_id
    name, body = split_update(plain)
    base = f"{settings.statuspage_api_url}/v1/pages/{settings.statuspage_page_id}/incidents"
    if incident.statuspage_id:
        method, url = "PATCH", f"{base}/{incident.statuspage_id}"
        payload: dict[str, Any] = {"incident": {"status": STATES[kind], "body": body}}
    elif kind == "resolved":
        return None
    else:
        method, url = "POST", base
        payload = {"incident": {"name": name, "status": STATES[kind], "body": body}}
    headers = {"Authorization": f"OAuth {settings.statuspage_api_key.get_secret_value()}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
            async with session.request(method, url, json=payload, headers=headers) as resp:
                if resp.status >= 300:
                    detail = (await resp.text())[:200]
                    raise StatuspageError(f"Statuspage answered {resp.status} ({detail})")
                data = await resp.json()
    except (aiohttp.ClientError, TimeoutError) as e:
        raise StatuspageError(f"Statuspage could not be reached ({type(e).__name__})") from e
    page_id = data.get("id") if isinstance(data, dict) else None
    if not page_id:
        raise StatuspageError("Statuspage answered without an incident id")
    return str(page_id)
