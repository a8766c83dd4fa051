"""Incident channel names: inc-YYYYMMDD-<playbook>-<slug>, valid for Slack and at most 80 characters."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from bot import limits


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "incident"


def channel_name(playbook_key: str, title: str, declared_at_ms: int, attempt: int = 0) -> str:
    """Attempt 0 is the plain name; later attempts add a suffix after a `name_taken`."""
    day = datetime.fromtimestamp(declared_at_ms / 1000, UTC).strftime("%Y%m%d")
    suffix = "" if attempt == 0 else f"-{attempt + 1}" if attempt < 5 else f"-{secrets.token_hex(3)}"
    base = f"inc-{day}-{playbook_key}-"
    room = limits.CHANNEL_NAME - len(base) - len(suffix)
    slug = slugify(title)[:room].rstrip("-") or "incident"
    return f"{base}{slug}{suffix}"
