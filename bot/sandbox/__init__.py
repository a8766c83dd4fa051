"""The sandbox: the bot, unchanged, against a local Slack workspace in the browser (`python -m bot sandbox`).

`run` starts it all; `emulator` is the workspace and what a Slack client does for the people in it (on top of
slackfake, the Slack the tests use); `ui`, `page`, `blockkit_html`, `mrkdwn_html` and `static/` are the page;
`people` who is in the workspace and what the app's manifest declares; `clock` the one clock "Skip ahead"
moves for the bot's Python code and its Lua scripts alike.
"""
