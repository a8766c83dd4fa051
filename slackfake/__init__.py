"""A local fake of the Slack Web API: a workspace served over HTTP on loopback, with Block Kit validation.

`FakeSlack` (slackfake.server) serves the Web API methods of slackfake.webapi, slackfake.modals and
slackfake.files over the state of a `Workspace` (slackfake.workspace); `validate_blocks` (slackfake.blockkit)
checks blocks the way Slack does. `AppRequests` (slackfake.delivery) is Slack's other half: the signed
requests it sends an app when a person acts (the sandbox uses it; the tests' driver builds its own).
"""

from slackfake.blockkit import MESSAGE_BLOCK_LIMIT, VIEW_BLOCK_LIMIT, find_violation, validate_blocks
from slackfake.server import Call, FakeSlack, ResponseCall
from slackfake.webapi import SlackError, WebApi
from slackfake.workspace import APP_ID, BOT_ID, BOT_USER, GENERAL_ID, TEAM_ID, Channel, Message, Workspace

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER",
    "GENERAL_ID",
    "MESSAGE_BLOCK_LIMIT",
    "TEAM_ID",
    "VIEW_BLOCK_LIMIT",
    "Call",
    "Channel",
    "FakeSlack",
    "Message",
    "ResponseCall",
    "SlackError",
    "WebApi",
    "Workspace",
    "find_violation",
    "validate_blocks",
]
