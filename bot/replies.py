"""Telling a person something privately, from whatever kind of request they made."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks import error_blocks
from bot.errors import BotError
from bot.mrkdwn import escape

log = logging.getLogger(__name__)


async def tell(client: AsyncWebClient, body: dict[str, Any], text: str, *, response_url: str = "",
               blocks: list[dict[str, Any]] | None = None) -> None:
    """Ephemeral reply through the response_url when there is one, else a direct message."""
    url = response_url or body.get("response_url") or ""
    if not url:
        urls = body.get("response_urls") or []
        url = urls[0]["response_url"] if urls else ""
    user = (body.get("user") or {}).get("id") or body.get("user_id") or ""
    if url:
        hook = AsyncWebhookClient(url)
        resp = await hook.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        if resp.status_code == 200:
            return
        log.warning("response_url answered %s; falling back to a direct message", resp.status_code)
    if user:
        try:
            await client.chat_postMessage(channel=user, text=text, blocks=blocks)
        except SlackApiError as e:
            log.error("could not tell %s: %s", user, e.response.get("error"))


async def report(client: AsyncWebClient, body: dict[str, Any], error: Exception, *, response_url: str = "") -> None:
    """The one error handler: known failures get their sentence, unknown ones an id to quote."""
    message = explain(error)
    await tell(client, body, message, response_url=response_url, blocks=error_blocks(message))


def explain(error: Exception) -> str:
    """What a person reads about a failure; an unknown one is logged with the id it tells them to quote."""
    if isinstance(error, BotError):
        return error.user_message
    ref = uuid.uuid4().hex[:8]
    if isinstance(error, SlackApiError):
        log.error("slack call failed [%s]: %s", ref, error.response.get("error"))
        return (f"Slack refused a call ({error.response.get('error')}), so the change may be incomplete. "
                f"Try again; if it persists, quote error id {ref}.")
    log.exception("unexpected error [%s]", ref, exc_info=error)
    return f"Something went wrong on our side. Try again; if it persists, quote error id {ref}."


# ---------------------------------------------------------------- what people read, in one place

RETRIED_LATER = "Slack refused it for now; the bot keeps retrying in the background"
PHASE_CLOSED = "That phase is already completed, so its steps can no longer change."
NO_RCA_YET = "There is no RCA to review yet: it is posted when the incident is resolved."
CHANGED_WHILE_RESOLVING = "The incident changed while resolving; please try again."
ACK_ALREADY = "This escalation was already acknowledged."
ACK_NOT_SENT = "That escalation has not been sent, so there is nothing to acknowledge."
OTHER_INCIDENT = ("That belongs to another incident, so nothing was changed. "
                  "Use the buttons and commands in that incident's own channel.")
MEMBERS_ONLY = "Only members of the incident channel can change this incident; ask someone in it to add you."
STALE_FORM = "This form no longer matches its incident; close it and open it again from the incident channel."
BAD_USER = "That does not look like a Slack user; mention them with @, e.g. `/incident commander @dana`."
ADDED_TO_TIMELINE = "Added to the timeline."
NOTE_USAGE = "Write the note after the command: `/incident note Rolled back api to v1.4.2`."
COMMANDER_USAGE = "Mention the new commander: `/incident commander @name` (or `me`)."
SUGGESTION_STALE = ("This suggestion is out of date: its alerts fired again since and were suggested anew, or "
                    "they went away. Use the newest suggestion, or declare with `/incident <playbook>`.")
RCA_USAGE = "Use `/incident rca` to see where the RCA stands, or `/incident rca reviewed` to mark it."


def no_roster_entry(role: str) -> str:
    return f"no roster entry for `{escape(role)}` (add it to ROSTER)"


def group_unresolved(role: str, why: str) -> str:
    return f"could not list the members of `{escape(role)}`'s user group ({escape(why)})"


def not_invited(uid: str, why: str) -> str:
    return f"could not invite <@{uid}> ({escape(why)})"


def responder_problems(problems: list[str]) -> str:
    return "⚠️ Responders: " + "; ".join(problems) + "."


def already_completed(phase_title: str) -> str:
    return f"{phase_title} was already completed."


def rca_already_reviewed(by: str) -> str:
    return f"The RCA was already marked reviewed{f' by <@{by}>' if by else ''}."


def playbook_gone(key: str) -> str:
    return f"Playbook {key!r} is no longer loaded; close and retry."


def could_not_declare(why: str) -> str:
    return f"Could not declare: {why}"


def not_declared(name: str, why: str) -> str:
    return (f"⚠️ {name} could not be declared: Slack refused to create the channel ({escape(why)}). "
            "It is recorded as failed; please declare again.")


def channel_not_linked(name: str, channel_id: str, why: str) -> str:
    return (f"⚠️ {name} is declared and its escalations are scheduled, and <#{channel_id}> was created, but the "
            f"bot could not record that channel because the incident store (Redis) is unreachable ({escape(why)}). "
            "Once Redis is back the bot sets the incident up in a new channel; archive that one.")


def set_up_interrupted(name: str, why: str) -> str:
    return (f"⚠️ {name} is declared and its escalations are scheduled, but setting up its channel stopped because "
            f"the incident store (Redis) became unreachable ({escape(why)}). The bot finishes what it can once "
            "Redis is back; check the incident channel, and post there what is missing.")


def declared_partly(name: str, channel_id: str, failures: str) -> str:
    return (f"⚠️ {name} is declared in <#{channel_id}>, but some set-up failed: {escape(failures)}. "
            "The incident works; fix or retry those by hand.")


def resolved_partly(name: str, errors: list[str]) -> str:
    return f"{name} is resolved, but updating Slack partly failed ({escape(', '.join(errors))})."


def status_partly(name: str, failures: list[str]) -> str:
    return f"The status update for {name} is recorded, but posting it partly failed ({escape('; '.join(failures))})."


def alert_already_declared(channel_id: str) -> str:
    where = f" in <#{channel_id}>" if channel_id else ""
    return f"An incident for these alerts is already open{where}; its alerts are followed there."


def unknown_command(word: str) -> str:
    return f"`{escape(word)}` is not a playbook or a command." if word else "That is not a playbook or a command."


def no_such_user(uid: str, why: str) -> str:
    return f"Slack does not know the user `{escape(uid)}` ({escape(why)}); mention them with @ from the list."


def bad_note(problem: str) -> str:
    return f"That note can't be added: {problem}."


def bad_severity(allowed: list[str]) -> str:
    return f"Severity must be one of {', '.join(allowed)}, e.g. `/incident sev P1`."


def already_severity(name: str, severity: str) -> str:
    return f"{name} is already {severity}."


def already_commander(uid: str) -> str:
    return f"<@{uid}> is already the incident commander."


def noted(uid: str, text: str) -> str:
    return f"📝 <@{uid}> noted: {escape(text)}"


def severity_changed(old: str, new: str, by: str) -> str:
    return f"Severity changed {old} → *{new}* by <@{by}>."


def commander_changed(uid: str, by: str) -> str:
    return f"<@{uid}> is now incident commander (set by <@{by}>)."


def rca_standing(name: str, is_open: bool, reviewed_by: str, due: str) -> str:
    if is_open:
        return f"The RCA for {name} is drafted when the incident is resolved."
    if reviewed_by:
        return f"The RCA for {name} was marked reviewed by <@{reviewed_by}>."
    return f"The RCA for {name} is due {due}. Mark it with `/incident rca reviewed` once the team has reviewed it."


# ---------------------------------------------------------------- PagerDuty

PAGED_FROM_SLACK = "Paged from the incident channel"


def pageable_roles(roles: list[str]) -> str:
    if not roles:
        return "No ROSTER role has a PagerDuty routing key yet (see README, PagerDuty)."
    return f"Roles you can page: {', '.join(f'`{escape(r)}`' for r in roles)}."


def page_usage(roles: list[str]) -> str:
    return f"Name the role to page: `/incident page perf-lead [message]`. {pageable_roles(roles)}"


def not_a_role(role: str, roles: list[str]) -> str:
    return f"`{escape(role)}` is not a role in ROSTER, so nobody was paged. {pageable_roles(roles)}"


def bad_page_message(problem: str) -> str:
    return f"That message can't go on a page: {problem}."


def no_routing_key(role: str, roles: list[str]) -> str:
    return (f"`{escape(role)}` has no PagerDuty routing key in ROSTER, so it can't be paged; mention them here "
            f"instead. {pageable_roles(roles)}")


def page_requested(uid: str, role: str, message: str) -> str:
    said = f": {escape(message)}" if message else ""
    return f"📟 <@{uid}> paged *{escape(role)}* through PagerDuty{said}"


def page_failed(action: str, role: str, why: str) -> str:
    """Said once in the incident channel when PagerDuty refused an event for good, or it was given up."""
    what = {"trigger": f"paging {role}", "acknowledge": f"acknowledging {role}'s page",
            "resolve": f"resolving {role}'s page"}.get(action, f"telling PagerDuty about {role}")
    return f"⚠️ PagerDuty: {escape(what)} failed: {escape(why)}"


def gave_up(why: str, attempts: int) -> str:
    return f"{why}; gave up after {attempts} attempts"


def acknowledged_in_pagerduty(name: str, role: str) -> str:
    return f"📟 {escape(name)} acknowledged the page for {escape(role)} in PagerDuty"


def resolved_in_pagerduty(name: str, role: str) -> str:
    return (f"📟 {escape(name)} resolved the page for {escape(role)} in PagerDuty. The incident stays open here "
            "until it is resolved in Slack (`/incident resolve`).")
