"""Modals: the forms people fill in, and a step's details. Built from playbooks and state, like messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from bot import forms, limits
from bot.ids import Callback, DeclareMeta, IncidentMeta, StatusMeta
from bot.incident import Incident
from bot.kit import Block, chunks, markdown_to_mrkdwn, section, text_obj
from bot.mrkdwn import escape
from bot.playbook import SEVERITIES, Phase, Playbook

RESOLVE_TITLE, STATUS_TITLE = "Resolve incident", "Status update"


def step_details_modal(book: Playbook, phase_index: int, step_index: int) -> dict[str, Any]:
    phase: Phase = book.phases[phase_index]
    step = phase.steps[step_index]
    blocks: list[Block] = [section(f"*{phase.title} · step {step_index + 1}*\n{escape(step.text)}"),
                           {"type": "divider"}]
    blocks += [section(part) for part in chunks(markdown_to_mrkdwn(step.detail))]
    return {"type": "modal", "callback_id": Callback.DETAILS, "title": text_obj("Step details", plain=True),
            "close": text_obj("Close", plain=True), "blocks": blocks[:limits.VIEW_BLOCKS]}


def field(block_id: str, label: str, *, initial: str = "", multiline: bool = False, optional: bool = False,
           max_length: int = limits.INPUT_TEXT, placeholder: str = "", hint: str = "") -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                               "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = text_obj(placeholder, plain=True)
    block = {"type": "input", "block_id": block_id, "label": text_obj(label, plain=True), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = text_obj(hint, plain=True)
    return block


def form(callback: str, title: str, submit: str, meta: BaseModel, form: list[Block]) -> dict[str, Any]:
    """A modal that collects input; `meta` travels in private_metadata to the submit handler."""
    return {"type": "modal", "callback_id": callback, "title": text_obj(title, plain=True),
            "submit": text_obj(submit, plain=True), "close": text_obj("Cancel", plain=True),
            "private_metadata": meta.model_dump_json(), "blocks": form}


def declare_modal(book: Playbook, title: str, meta: DeclareMeta, *, private: bool = False, service: str = "",
                  description: str = "") -> dict[str, Any]:
    sev_options = [{"text": text_obj(s, plain=True), "value": s} for s in SEVERITIES]
    severity = {
        "type": "input", "block_id": "severity", "label": text_obj("Severity", plain=True),
        "element": {"type": "static_select", "action_id": "value", "options": sev_options,
                    "initial_option": next(o for o in sev_options if o["value"] == book.meta.severity)},
    }
    return form(Callback.DECLARE, "Declare incident", "Declare", meta, [
        section(f"*Playbook:* {escape(book.meta.title)}" + (f"\n{escape(book.meta.summary)}"
                                                              if book.meta.summary else "")),
        field("title", "Title", initial=title, max_length=forms.TITLE_MAX,
               placeholder="e.g. Checkout API p99 latency above 2 s"),
        severity,
        field("service", "Affected service", initial=service, optional=True, max_length=forms.SERVICE_MAX),
        field("description", "Description", initial=description, multiline=True, optional=True,
               max_length=forms.DESCRIPTION_MAX,
               placeholder="What is happening, since when, who is affected"),
        _private_box(private),
    ])


def _private_box(checked: bool) -> Block:
    option = {"text": text_obj("Private incident", plain=True), "value": forms.PRIVATE,
              "description": text_obj("Private channel; announced without title or people", plain=True)}
    element: dict[str, Any] = {"type": "checkboxes", "action_id": "value", "options": [option]}
    if checked:
        element["initial_options"] = [option]
    return {"type": "input", "block_id": "private", "optional": True, "label": text_obj("Visibility", plain=True),
            "element": element}


def resolve_modal(incident: Incident, meta: IncidentMeta) -> dict[str, Any]:
    return form(Callback.RESOLVE, RESOLVE_TITLE, "Resolve", meta, [
        section(f"Resolving *{incident.name}* · {escape(incident.title)}. Steps still open in the "
                 "current phase are recorded as skipped."),
        field("cause", "Cause", multiline=True, max_length=forms.CAUSE_MAX,
               placeholder="What caused the degradation"),
        field("resolution", "Resolution", multiline=True, max_length=forms.RESOLUTION_MAX,
               placeholder="What fixed it"),
    ])


def status_modal(incident: Incident, kind: str, proposed: str, meta: StatusMeta,
                 status_channel: str | None) -> dict[str, Any]:
    where = f"*{escape(status_channel)}* and this channel" if status_channel else \
        "this channel (STATUS_CHANNEL is not set)"
    return form(Callback.STATUS, STATUS_TITLE, "Post update", meta, [
        section(f"The *{kind}* update for *{incident.name}* · {escape(incident.title)}, to {where}."),
        field("eta", "ETA for normal performance", optional=True, max_length=forms.ETA_MAX,
               placeholder="e.g. 30 minutes, 14:00 UTC"),
        field("text", "Update", initial=proposed, multiline=True, max_length=forms.UPDATE_MAX,
               hint="Left as proposed, it is filled in again with the ETA and the time of posting. "
                    "Edited, it is posted exactly as written."),
    ])


def opening(title: str) -> dict[str, Any]:
    """What a modal shows the moment it opens, before the incident is read (nothing to submit yet)."""
    return {"type": "modal", "title": text_obj(title, plain=True), "close": text_obj("Cancel", plain=True),
            "blocks": [section("Reading the incident…")]}


def notice(title: str, message: str) -> dict[str, Any]:
    """An opened modal that could not be filled in: why, and what to do instead."""
    return {"type": "modal", "title": text_obj(title, plain=True), "close": text_obj("Close", plain=True),
            "blocks": [section(f"⚠️ {message}")]}
