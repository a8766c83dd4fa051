"""Slack's limits the bot builds against (Block Kit reference and method docs), named once."""

from __future__ import annotations

MESSAGE_BLOCKS = 50  # blocks in one message
VIEW_BLOCKS = 100  # blocks in one modal
SECTION_TEXT = 3000  # characters in a section's text
SECTION_CHUNK = 2900  # what we put in one section when splitting long text, leaving room for a closing fence
SECTION_LINE = 2800  # longest line we keep unbroken inside a section
FIELD_TEXT = 2000  # characters in one section field
HEADER_TEXT = 150  # characters in a header block
BUTTON_TEXT = 75  # characters on a button or in an option's label
OPTIONS = 100  # options in a static select
TOPIC = 250  # characters in a channel topic
CHANNEL_NAME = 80  # characters in a channel name
# Past roughly this much text in its blocks Slack refuses a message (msg_blocks_too_long); send text only.
BLOCKS_TEXT_BUDGET = 11_000
# Sections of one long text we put in a message, leaving room for a header and context blocks.
TEXT_SECTIONS = MESSAGE_BLOCKS - 5
INPUT_TEXT = 3000  # characters a plain_text_input may take
FILE_TITLE = 250  # characters in an uploaded file's title
