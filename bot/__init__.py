"""Slack incident-response bot."""
