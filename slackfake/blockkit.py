"""Block Kit validation: what Slack refuses in the blocks of a message or a view.

The per-field limits (text lengths, element and option counts, required fields, date and time formats, button
styles, view titles) come from `slack_sdk.models`: each block, element and option is parsed there and its
validators run. This module adds what those validators do not check: block counts, the total text of a
message, unique block_id and action_id values, fields Slack takes as plain_text only, which elements fit
where, option counts of checkboxes and radio buttons, initial options that must be among the options, and
the shape of rich text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, Option, OptionGroup
from slack_sdk.models.views import View

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
MESSAGE_BLOCKS_TEXT_LIMIT = 13_000  # (≈) Slack answers msg_blocks_too_long past roughly this much text
SECTION_FIELD_TEXT_LIMIT = 2000
CONTEXT_TEXT_LIMIT = 3000
CHOICE_OPTION_LIMIT = 10  # checkboxes and radio_buttons
TABLE_ROW_LIMIT = 100
TEXT_INPUT_LIMIT = 3000  # plain_text_input max_length and initial_value
ID_LIMIT = 255  # external_id of a view


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


# The block types slack_sdk knows; it parses any other as None.
BLOCK_TYPES = frozenset(t for c in _subclasses(Block) if isinstance(t := getattr(c, "type", None), str))
_SELECTS = frozenset({"static_select", "external_select", "users_select", "conversations_select", "channels_select",
                      "multi_static_select", "multi_external_select", "multi_users_select",
                      "multi_conversations_select", "multi_channels_select"})
ACTIONS_ELEMENTS = _SELECTS | {"button", "checkboxes", "radio_buttons", "overflow", "datepicker", "timepicker",
                               "datetimepicker", "workflow_button"}
ACCESSORY_ELEMENTS = ACTIONS_ELEMENTS | {"image"}
INPUT_ELEMENTS = _SELECTS | {"plain_text_input", "checkboxes", "radio_buttons", "datepicker", "timepicker",
                             "datetimepicker", "email_text_input", "url_text_input", "number_input",
                             "rich_text_input", "file_input"}
RICH_TEXT_CONTAINERS = frozenset({"rich_text_section", "rich_text_list", "rich_text_preformatted",
                                  "rich_text_quote"})
# Fields that hold a text object, by the type of what holds them; True where Slack takes plain_text only
# (slack_sdk takes either, except for an image block's title).
TEXT_FIELDS: dict[str, dict[str, bool]] = {
    "section": {"text": False},
    "header": {"text": True},
    "input": {"label": True, "hint": True},
    "video": {"title": True},
    "button": {"text": True},
    "workflow_button": {"text": True},
    "confirm": {"title": True, "text": False, "confirm": True, "deny": True},
    "modal": {"title": True, "submit": True, "close": True},
    "option_group": {"label": True},
}


class BlockKitError(ValueError):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _fail(path: str, problem: str) -> NoReturn:
    raise BlockKitError(path, problem)


def _obj(value: Any, path: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, f"{what} must be an object, got {type(value).__name__}")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "block": Block.parse,
    "option": lambda o: Option(**o),
    "option group": lambda g: OptionGroup(**g),
    "view": lambda v: View(**v),
}


@functools.lru_cache(maxsize=4096)
def _sdk_problem(kind: str, value_json: str) -> str | None:
    """What slack_sdk's validators say about a block, option, option group or view (to_dict runs those of
    every part), or None. Cached: apps send the same blocks again and again, in every chat.update."""
    try:
        parsed = _PARSERS[kind](json.loads(value_json))
        if parsed is not None:
            parsed.to_dict()
    except SlackObjectFormationError as e:
        return str(e)
    except (TypeError, KeyError, AttributeError, ValueError) as e:
        return f"malformed {kind} ({type(e).__name__}: {e})"
    return None


# Free-form strings whose content slack_sdk's validators never read, only their length.
_LENGTH_ONLY = frozenset({"text", "value"})


def _shape(value: Any) -> Any:
    """`value` with every free-form string (_LENGTH_ONLY) replaced by one of the same length: what the
    validators see is unchanged, and blocks that differ only in their words (each incident's ping) share one
    cached verdict instead of being parsed again."""
    if isinstance(value, dict):
        return {k: "x" * len(v) if k in _LENGTH_ONLY and isinstance(v, str) else _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def _sdk(kind: str, value: Any, path: str) -> None:
    problem = _sdk_problem(kind, json.dumps(_shape(value), sort_keys=True, default=str))
    if problem is not None:
        _fail(path, problem)


def _text(value: Any, path: str, *, plain: bool = False, max_len: int | None = None) -> None:
    obj = _obj(value, path, "text object")
    kind = obj.get("type")
    if kind not in ("plain_text", "mrkdwn"):
        _fail(f"{path}/type", f"must be a text object of type plain_text or mrkdwn, got {kind!r}")
    if plain and kind != "plain_text":
        _fail(f"{path}/type", f"must be plain_text, got {kind}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        _fail(f"{path}/text", "must be a non-empty string")
    if max_len is not None and len(text) > max_len:
        _fail(f"{path}/text", f"must be at most {max_len} characters, got {len(text)}")


def _text_fields(obj: dict[str, Any], path: str, holder: str) -> None:
    for key, plain in TEXT_FIELDS.get(holder, {}).items():
        if key in obj:
            _text(obj[key], f"{path}/{key}", plain=plain)


def _option_key(option: Any) -> tuple[Any, Any]:
    if not isinstance(option, dict):
        return (None, None)
    text = option.get("text")
    return (option.get("value"), text.get("text") if isinstance(text, dict) else None)


def _list(value: Any, path: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(path, f"{what} must be an array, got {type(value).__name__}")
    return value


def _text_length(node: Any) -> int:
    """Characters of text blocks carry (what msg_blocks_too_long is about)."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_length(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(_text_length(v) for v in node)
    return 0


class _Checker:
    """Walks blocks, failing at the first violation. block_ids are unique across a message or view;
    action_ids within their block, as Slack's reference says."""

    def __init__(self) -> None:
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    def blocks(self, blocks: Any, path: str, *, limit: int) -> None:
        _list(blocks, path, "blocks")
        if len(blocks) > limit:
            _fail(path, f"no more than {limit} blocks are allowed, got {len(blocks)}")
        for i, block in enumerate(blocks):
            self.block(block, f"{path}/{i}")

    @staticmethod
    def _unique(value: Any, path: str, what: str, seen: set[str]) -> None:
        if not isinstance(value, str):
            _fail(path, f"{what} must be a string, got {type(value).__name__}")
        if value in seen:
            _fail(path, f"{what} {value!r} is not unique within this message/view")
        seen.add(value)

    def block(self, value: Any, path: str) -> None:
        block = _obj(value, path, "block")
        self.action_ids = set()
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            _fail(f"{path}/type", f"unknown block type {kind!r} (known: {', '.join(sorted(BLOCK_TYPES))})")
        if "block_id" in block:
            self._unique(block["block_id"], f"{path}/block_id", "block_id", self.block_ids)
        _text_fields(block, path, kind)
        if kind == "section":
            for i, f in enumerate(_list(block.get("fields", []), f"{path}/fields", "section fields")):
                _text(f, f"{path}/fields/{i}", max_len=SECTION_FIELD_TEXT_LIMIT)
            if "accessory" in block:
                self.element(block["accessory"], f"{path}/accessory", ACCESSORY_ELEMENTS)
        elif kind == "context":
            for i, el in enumerate(_list(block.get("elements"), f"{path}/elements", "context elements")):
                if isinstance(el, dict) and el.get("type") == "image":
                    self.element(el, f"{path}/elements/{i}", frozenset({"image"}))
                else:
                    _text(el, f"{path}/elements/{i}", max_len=CONTEXT_TEXT_LIMIT)
        elif kind == "actions":
            for i, el in enumerate(_list(block.get("elements"), f"{path}/elements", "actions elements")):
                self.element(el, f"{path}/elements/{i}", ACTIONS_ELEMENTS)
        elif kind == "input" and "element" in block:
            self.element(block["element"], f"{path}/element", INPUT_ELEMENTS)
        elif kind == "image":
            self.image(block, path)
        elif kind == "rich_text":
            for i, el in enumerate(_list(block.get("elements"), f"{path}/elements", "rich_text elements")):
                self.rich_text(el, f"{path}/elements/{i}")
        elif kind == "table" and len(_list(block.get("rows"), f"{path}/rows", "table rows")) > TABLE_ROW_LIMIT:
            _fail(f"{path}/rows", f"a table has at most {TABLE_ROW_LIMIT} rows")
        _sdk("block", block, path)

    @staticmethod
    def image(value: dict[str, Any], path: str) -> None:
        if "image_url" not in value and "slack_file" not in value:
            _fail(path, "image needs image_url or slack_file")

    def rich_text(self, value: Any, path: str) -> None:
        el = _obj(value, path, "rich_text element")
        kind = el.get("type")
        if kind not in RICH_TEXT_CONTAINERS:
            _fail(f"{path}/type", f"unknown rich_text element {kind!r}")
        if kind == "rich_text_list":
            if el.get("style") not in ("bullet", "ordered"):
                _fail(f"{path}/style", "rich_text_list style must be bullet or ordered")
            for i, child in enumerate(_list(el.get("elements"), f"{path}/elements", "rich_text_list elements")):
                if not isinstance(child, dict) or child.get("type") != "rich_text_section":
                    _fail(f"{path}/elements/{i}", "rich_text_list elements must be rich_text_section")

    def element(self, value: Any, path: str, allowed: frozenset[str]) -> None:
        el = _obj(value, path, "element")
        kind = el.get("type")
        if kind not in allowed:
            _fail(f"{path}/type", f"element type {kind!r} is not allowed here")
        if kind == "image":
            self.image(el, path)
        if "action_id" in el:
            self._unique(el["action_id"], f"{path}/action_id", "action_id", self.action_ids)
        _text_fields(el, path, kind)
        if "placeholder" in el:
            _text(el["placeholder"], f"{path}/placeholder", plain=True)
        if "confirm" in el:
            _text_fields(_obj(el["confirm"], f"{path}/confirm", "confirm"), f"{path}/confirm", "confirm")
        if "options" in el or "option_groups" in el:
            self.options(el, path, plain=kind not in ("checkboxes", "radio_buttons"))
        if kind in ("checkboxes", "radio_buttons") and len(el.get("options") or []) > CHOICE_OPTION_LIMIT:
            _fail(f"{path}/options", f"{kind} allows at most {CHOICE_OPTION_LIMIT} options, got {len(el['options'])}")
        if kind == "plain_text_input":
            self.text_input(el, path)

    def options(self, el: dict[str, Any], path: str, *, plain: bool) -> None:
        """Options through slack_sdk's Option (most elements keep them unparsed), plain_text where required,
        and initial options among them: Slack refuses one that is not, a common real-world failure."""
        options = [(f"{path}/options/{i}", o) for i, o in enumerate(_list(el.get("options", []), path, "options"))]
        for i, group in enumerate(_list(el.get("option_groups", []), path, "option_groups")):
            p = f"{path}/option_groups/{i}"
            _text_fields(_obj(group, p, "option group"), p, "option_group")
            _sdk("option group", group, p)
            options += [(f"{p}/options/{j}", o) for j, o in enumerate(_list(group.get("options"), p, "options"))]
        for p, option in options:
            _sdk("option", option, p)
            _text(option.get("text"), f"{p}/text", plain=plain)
            if "description" in option:
                _text(option["description"], f"{p}/description", plain=plain)
        keys = {_option_key(o) for _, o in options}
        if "initial_option" in el and _option_key(el["initial_option"]) not in keys:
            _fail(f"{path}/initial_option", "initial_option must match one of the options")
        for i, option in enumerate(el.get("initial_options") or []):
            if _option_key(option) not in keys:
                _fail(f"{path}/initial_options/{i}", "initial_options must match options")

    @staticmethod
    def text_input(el: dict[str, Any], path: str) -> None:
        max_len = el.get("max_length", TEXT_INPUT_LIMIT)
        if not isinstance(max_len, int) or not 1 <= max_len <= TEXT_INPUT_LIMIT:
            _fail(f"{path}/max_length", f"max_length must be an integer from 1 to {TEXT_INPUT_LIMIT}")
        min_len = el.get("min_length", 0)
        if not isinstance(min_len, int) or not 0 <= min_len <= max_len:
            _fail(f"{path}/min_length", "min_length must be an integer from 0 to max_length")
        if len(str(el.get("initial_value", ""))) > TEXT_INPUT_LIMIT:
            _fail(f"{path}/initial_value", f"initial_value must be at most {TEXT_INPUT_LIMIT} characters")


def find_violation(blocks: Any, *, limit: int = MESSAGE_BLOCK_LIMIT, path: str = "/blocks") -> tuple[str, str] | None:
    """(Slack error code, message) for the first violation, or None.

    Within the message limit (≤ 50 blocks) the total-text check behind `msg_blocks_too_long` applies too.
    """
    try:
        _Checker().blocks(blocks, path, limit=limit)
    except BlockKitError as e:
        return "invalid_blocks", str(e)
    if limit <= MESSAGE_BLOCK_LIMIT:
        total = _text_length(blocks)
        if total > MESSAGE_BLOCKS_TEXT_LIMIT:
            return ("msg_blocks_too_long",
                    f"{path}: blocks carry {total} characters of text (limit ≈{MESSAGE_BLOCKS_TEXT_LIMIT})")
    return None


def validate_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCK_LIMIT) -> str | None:
    """The first Block Kit violation in `blocks` as a readable message, or None when Slack would accept them.

    Pass `limit=100` for modals and Home tabs (no total-text check there).
    """
    found = find_violation(blocks, limit=limit)
    return found[1] if found else None


def check_view(view: Any) -> tuple[str, str] | None:
    """(Slack error code, message) for the first problem in a modal, or None: invalid_arguments for the view
    itself, the codes of find_violation for its blocks."""
    try:
        v = _obj(view, "/view", "view")
        if v.get("type") != "modal":
            _fail("/view/type", f"view type must be modal, got {v.get('type')!r}")
        if "title" not in v:
            _fail("/view/title", "a modal needs a title")
        _text_fields(v, "/view", "modal")
        blocks = _list(v.get("blocks"), "/view/blocks", "blocks")
        if "submit" not in v and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks):
            _fail("/view/submit", "submit is required when a modal has input blocks")
        if len(str(v.get("external_id", ""))) > ID_LIMIT:
            _fail("/view/external_id", f"external_id must be at most {ID_LIMIT} characters")
        found = find_violation(blocks, limit=VIEW_BLOCK_LIMIT, path="/view/blocks")
        if found is not None:
            return found
        _sdk("view", v, "/view")  # blocks are valid by now: what fails here is the view's own
    except BlockKitError as e:
        return "invalid_arguments", str(e)
    return None
