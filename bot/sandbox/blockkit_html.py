"""Block Kit as HTML, as a Slack client draws it: messages (header, section with fields and accessory,
context, divider, actions, image) and modals (input blocks as labelled form controls).

Every interactive element is a native control whose accessible name is its Block Kit text: a button is a
<button>, a static select a <select> labelled by its placeholder (or its input's label), a checkbox a
checkbox labelled by its option. Elements carry their position (data-block, data-el) and action_id; the
server looks the element up in the stored message or view, as Slack does, so the page holds no payloads.
All text is escaped (mrkdwn_html); a block type the sandbox does not draw is named, never dropped silently.
"""

from __future__ import annotations

import html
from typing import Any

from bot.sandbox.mrkdwn_html import Names, to_html

Block = dict[str, Any]


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def text_html(obj: Any, names: Names) -> str:
    """A text object: mrkdwn formatted, plain_text as is."""
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text") or "")
    return to_html(text, names) if obj.get("type") == "mrkdwn" else esc(text)


def plain(obj: Any) -> str:
    """The text of a plain_text object (button labels, placeholders, titles)."""
    return str(obj.get("text") or "") if isinstance(obj, dict) else ""


def options_of(element: Block) -> list[Block]:
    """An element's options in order, those of its option groups included: a <select>'s values index them."""
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += list(group.get("options") or [])
    return [o for o in found if isinstance(o, dict)]


class Drawer:
    """Draws one message or view; `prefix` keeps the ids it makes unique on the page. A view's inputs show
    `values` (what was last submitted, by block_id) and `errors` (the app's, by block_id)."""

    def __init__(self, names: Names, prefix: str, *, errors: dict[str, str] | None = None,
                 values: dict[str, Any] | None = None) -> None:
        self.names = names
        self.prefix = prefix
        self.errors = errors or {}
        self.values = values or {}

    def _id(self, *parts: object) -> str:
        return "-".join([self.prefix, *map(str, parts)])

    def blocks(self, blocks: list[Block]) -> str:
        return "".join(self.block(b, i) for i, b in enumerate(blocks) if isinstance(b, dict))

    def block(self, block: Block, i: int) -> str:
        kind = block.get("type")
        if kind == "header":
            return f'<h3 class="bk-header">{esc(plain(block.get("text")))}</h3>'
        if kind == "divider":
            return '<hr class="bk-divider">'
        if kind == "section":
            return self.section(block, i)
        if kind == "context":
            parts = [f'<span class="bk-alt">[{esc(e.get("alt_text") or "image")}]</span>'
                     if e.get("type") == "image" else f"<span>{text_html(e, self.names)}</span>"
                     for e in block.get("elements") or [] if isinstance(e, dict)]
            return f'<div class="bk-context">{"".join(parts)}</div>'
        if kind == "actions":
            elements = [self.element(e, i, n) for n, e in enumerate(block.get("elements") or [])
                        if isinstance(e, dict)]
            return f'<div class="bk-actions">{"".join(elements)}</div>'
        if kind == "image":
            title = f"{plain(block.get('title'))}: " if block.get("title") else ""
            return f'<p class="bk-alt">[image: {esc(title)}{esc(block.get("alt_text") or "")}]</p>'
        if kind == "input":
            return self.input(block, i)
        return f'<p class="bk-unsupported">(a {esc(kind)} block, which the sandbox does not draw)</p>'

    def section(self, block: Block, i: int) -> str:
        text_id = self._id("t", i)
        body = f'<div class="bk-text" id="{text_id}">{text_html(block.get("text"), self.names)}</div>' \
            if block.get("text") else ""
        fields = block.get("fields") or []
        if fields:
            cells = "".join(f'<div class="bk-field">{text_html(f, self.names)}</div>' for f in fields)
            body += f'<div class="bk-fields">{cells}</div>'
        accessory = block.get("accessory")
        if not isinstance(accessory, dict):
            return f'<div class="bk-section">{body}</div>'
        # A section with a control is a group named by its text, so "Done" can be told apart from the others.
        named = f' aria-labelledby="{text_id}"' if block.get("text") else ""
        return (f'<div class="bk-section with-accessory" role="group"{named}>{body}'
                f'<div class="bk-accessory">{self.element(accessory, i, -1)}</div></div>')

    def element(self, el: Block, block: int, n: int) -> str:
        kind = el.get("type")
        where = f'data-block="{block}" data-el="{n}" data-action="{esc(el.get("action_id") or "")}"'
        if kind == "button":
            style = f' {esc(el["style"])}' if el.get("style") in ("primary", "danger") else ""
            label = esc(plain(el.get("text")))
            url = f' data-url="{esc(el["url"])}"' if str(el.get("url") or "").startswith(("http://", "https://")) \
                else ""
            confirm = el.get("confirm")
            if not isinstance(confirm, dict):
                return f'<button type="button" class="btn{style}" data-act="button" {where}{url}>{label}</button>'
            cid = self._id("confirm", block, n)
            return (f'<span class="confirmable"><button type="button" class="btn{style}" data-act="button" '
                    f'data-confirm="{cid}" {where}{url}>{label}</button>{self.confirm(confirm, cid)}</span>')
        if kind in ("static_select", "overflow"):
            placeholder = plain(el.get("placeholder")) or ("More options" if kind == "overflow" else "Choose")
            return (f'<select class="bk-select" data-act="{esc(kind)}" {where} aria-label="{esc(placeholder)}">'
                    f'<option value="" selected disabled>{esc(placeholder)}</option>{self.options(el)}</select>')
        if kind == "image":
            return f'<span class="bk-alt">[{esc(el.get("alt_text") or "image")}]</span>'
        return f'<span class="bk-unsupported">(a {esc(kind)} element, which the sandbox does not draw)</span>'

    @staticmethod
    def options(el: Block, selected: set[int] | None = None) -> str:
        out, index = [], 0
        groups = el.get("option_groups") or [{"options": el.get("options") or []}]
        for group in groups:
            items = []
            for option in group.get("options") or []:
                chosen = " selected" if selected and index in selected else ""
                items.append(f'<option value="{index}"{chosen}>{esc(plain(option.get("text")))}</option>')
                index += 1
            label = plain(group.get("label"))
            out.append(f'<optgroup label="{esc(label)}">{"".join(items)}</optgroup>' if label else "".join(items))
        return "".join(out)

    def confirm(self, confirm: Block, cid: str) -> str:
        style = " danger" if confirm.get("style") == "danger" else " primary"
        title = esc(plain(confirm.get("title")) or "Are you sure?")
        deny, yes = esc(plain(confirm.get("deny")) or "Cancel"), esc(plain(confirm.get("confirm")) or "Yes")
        return (f'<div class="confirm" id="{cid}" role="alertdialog" aria-modal="true" aria-labelledby="{cid}-t" '
                f'aria-describedby="{cid}-d" hidden><h4 id="{cid}-t">{title}</h4>'
                f'<div id="{cid}-d">{text_html(confirm.get("text"), self.names)}</div><div class="buttons">'
                f'<button type="button" class="btn" data-deny>{deny}</button>'
                f'<button type="button" class="btn{style}" data-confirmed>{yes}</button></div></div>')

    # ---- modals ------------------------------------------------------------------------------------------------

    def input(self, block: Block, i: int) -> str:
        """An input block: a control labelled by the block's label, its hint and any error beside it."""
        el: Block = block["element"] if isinstance(block.get("element"), dict) else {}
        kind, block_id = el.get("type"), str(block.get("block_id") or i)
        cid, label = self._id("in", i), esc(plain(block.get("label")))
        optional = bool(block.get("optional"))
        error = self.errors.get(block_id, "")
        described = " ".join(x for x, on in ((f"{cid}-err", error), (f"{cid}-hint", block.get("hint"))) if on)
        common = (f'id="{cid}" name="{esc(block_id)}" data-block="{i}" data-kind="{esc(kind)}"'
                  + (f' aria-describedby="{described}"' if described else "")
                  + (' aria-invalid="true"' if error else ""))
        value = self.values.get(block_id)
        required = "" if optional else " required"
        if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
            current = value if isinstance(value, str) else str(el.get("initial_value") or "")
            limits = (f' maxlength="{int(el["max_length"])}"' if isinstance(el.get("max_length"), int) else "") + (
                f' minlength="{int(el["min_length"])}"' if isinstance(el.get("min_length"), int) else "")
            placeholder = f' placeholder="{esc(plain(el.get("placeholder")))}"' if el.get("placeholder") else ""
            attrs = f"{common}{limits}{placeholder}{required}"
            if el.get("multiline"):
                control = f"<textarea {attrs} rows=\"4\">{esc(current)}</textarea>"
            else:
                html_type = {"email_text_input": "email", "url_text_input": "url", "number_input": "number"}
                control = f'<input type="{html_type.get(str(kind), "text")}" {attrs} value="{esc(current)}">'
            field = f'<label for="{cid}">{label}</label>{control}'
        elif kind == "static_select":
            options = self.select_options(el, value)
            field = f'<label for="{cid}">{label}</label><select {common}{required}>{options}</select>'
        elif kind in ("checkboxes", "radio_buttons"):
            field = f'<fieldset {common}><legend>{label}</legend>{self.choices(el, cid, value)}</fieldset>'
        else:
            field = f'<p class="bk-unsupported">{label}: a {esc(kind)} input, which the sandbox does not draw</p>'
        mark = ' <span class="optional">(optional)</span>' if optional else ""
        hint = f'<p class="hint" id="{cid}-hint">{esc(plain(block.get("hint")))}</p>' if block.get("hint") else ""
        err = f'<p class="error" id="{cid}-err" role="alert">{esc(error)}</p>' if error else ""
        return f'<div class="bk-input">{field}{mark}{err}{hint}</div>'

    def select_options(self, el: Block, value: Any) -> str:
        options = options_of(el)
        initial = el.get("initial_option")
        chosen = {int(value)} if isinstance(value, str) and value.isdigit() else \
            {n for n, o in enumerate(options) if initial and o.get("value") == initial.get("value")}
        blank = "" if chosen else '<option value="" selected></option>'
        return blank + self.options(el, chosen)

    def choices(self, el: Block, cid: str, value: Any) -> str:
        options = options_of(el)
        kind = "checkbox" if el.get("type") == "checkboxes" else "radio"
        if isinstance(value, list):
            chosen = {int(v) for v in value if str(v).isdigit()}
        else:
            initial = [el["initial_option"]] if el.get("initial_option") else el.get("initial_options") or []
            values = {o.get("value") for o in initial if isinstance(o, dict)}
            chosen = {n for n, o in enumerate(options) if o.get("value") in values}
        out = []
        for n, option in enumerate(options):
            oid = f"{cid}-{n}"
            checked = " checked" if n in chosen else ""
            description = option.get("description")
            note = f'<span class="hint">{text_html(description, self.names)}</span>' if description else ""
            out.append(f'<div class="choice"><input type="{kind}" id="{oid}" name="{cid}" value="{n}"{checked}>'
                       f'<label for="{oid}">{text_html(option.get("text"), self.names)}</label>{note}</div>')
        return "".join(out)


def modal_html(view: Block, names: Names, *, errors: dict[str, str], values: dict[str, Any]) -> str:
    """The open modal: a dialog named by its title, its blocks, then its close and submit buttons."""
    drawer = Drawer(names, f"v{esc(view.get('id'))}", errors=errors, values=values)
    title = esc(plain(view.get("title")))
    submit = f'<button type="submit" class="btn primary">{esc(plain(view["submit"]))}</button>' \
        if view.get("submit") else ""
    close = esc(plain(view.get("close")) or "Cancel")
    return (f'<div class="backdrop"><div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" '
            f'data-view="{esc(view.get("id"))}"><form class="modal-form"><h2 id="modal-title">{title}</h2>'
            f'<div class="modal-body">{drawer.blocks(list(view.get("blocks") or []))}</div>'
            f'<div class="buttons"><button type="button" class="btn" data-close>{close}</button>{submit}</div>'
            "</form></div></div>")
