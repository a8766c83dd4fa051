"""Playbooks: the shipped ones load and fit Slack's limits; broken ones name file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import blocks, modals
from bot.errors import ConfigError
from bot.incident import Incident, StepState
from bot.playbook import PHASES
from bot.playbook_file import load_playbooks, parse_playbook
from bot.roster import parse_roster
from bot.schedule import Due, DueKind, all_members, plan_for_incident
from slackfake import validate_blocks

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_playbooks(ROOT / "playbooks")


def sample_incident(book_key: str, **extra: object) -> Incident:
    base = {"id": "42", "playbook": book_key, "title": "Checkout p99 above 2s", "severity": "P2",
            "declared_by": "U1", "declared_at": 1_700_000_000_000, "channel_id": "C1", "card_ts": "1.1",
            "commander": "U1"}
    return Incident.model_validate({**base, **extra})


def test_shipped_playbooks_are_the_four_expected():
    assert set(SHIPPED) == {"perf", "api-latency", "logging-latency", "service-perf"}


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_shipped_playbook_structure(key):
    book = SHIPPED[key]
    assert [p.name for p in book.phases] == list(PHASES)
    for phase in book.phases:
        assert 1 <= len(phase.steps) <= 40
        for step in phase.steps:
            assert step.text and len(step.text) <= 300
    afters = [level.after for level in book.meta.escalation]
    assert afters == sorted(afters) and afters


def test_perf_playbook_matches_the_runbooks():
    book = SHIPPED["perf"]
    assert book.meta.severity == "P2"
    assert [(lvl.after, lvl.set_severity) for lvl in book.meta.escalation] == [(900, None), (1800, "P1"), (2700, None)]
    assert [p.window for p in book.phases] == ["0–60 min", "1–3 h", "3–6 h", "6–8 h"]
    assert [p.window_end for p in book.phases] == [3600, 3 * 3600, 6 * 3600, 8 * 3600]
    assess = " ".join(s.text + s.detail for s in book.phases[0].steps).lower()
    for expected in ("7 days", "30 minutes", "region", "baseline"):
        assert expected in assess, expected
    assert any("```" in s.detail for p in book.phases for s in p.steps), "commands are kept as step detail"


def test_logging_playbook_escalates_at_30_and_60_minutes():
    assert [lvl.after for lvl in SHIPPED["logging-latency"].meta.escalation] == [1800, 3600]


def test_shipped_targets_and_review_windows_are_the_runbooks():
    perf, logging = SHIPPED["perf"].meta, SHIPPED["logging-latency"].meta
    # 000: acknowledge within 1 hour, resolve within 8 hours, review meeting within 48 hours.
    assert (perf.targets.acknowledge, perf.targets.resolve, perf.review_within) == (3600, 8 * 3600, 48 * 3600)
    # 003: acknowledge the alert first (< 5 minutes), escalate if not resolved within 30, review within a week.
    assert (logging.targets.acknowledge, logging.targets.resolve, logging.review_within) == (300, 1800, 7 * 86400)
    # 000's escalation path ends with the engineering manager: a roster role, reminded when a target passes.
    assert "engineering-manager" in SHIPPED["perf"].roles()
    assert perf.targets.notify == ["incident-manager", "engineering-manager"]
    for key in ("api-latency", "service-perf"):  # their runbooks set no targets or review window
        assert SHIPPED[key].meta.targets.set() == [] and SHIPPED[key].meta.review_within is None


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_every_phase_message_fits_slack_limits_in_every_state(key):
    book = SHIPPED[key]
    for p, phase in enumerate(book.phases):
        # Fresh, all done by someone, and all skipped: the longest renderings.
        states = [{}, {f"{p}:{i}": StepState(state="done", by="U0123456789", at=1_700_000_000_000)
                       for i in range(len(phase.steps))},
                  {f"{p}:{i}": StepState(state="skipped", by="U0123456789", at=1_700_000_000_000)
                   for i in range(len(phase.steps))}]
        for steps in states:
            incident = sample_incident(key, phase=p, steps=steps)
            text, message = blocks.phase_message(incident, book, p)
            assert validate_blocks(message) is None, (key, p, validate_blocks(message))
            assert len(text) < 4000
        for i, step in enumerate(phase.steps):
            if step.detail:
                modal = modals.step_details_modal(book, p, i)
                assert validate_blocks(modal["blocks"], limit=100) is None


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_card_and_schedule(key):
    book = SHIPPED[key]
    incident = sample_incident(key)
    assert validate_blocks(blocks.card(incident, book)[1]) is None
    plan = plan_for_incident(incident, book)
    escalations = sorted(v for k, v in plan.items() if k.kind == DueKind.ESCALATION)
    assert escalations == [incident.declared_at + lvl.after * 1000 for lvl in book.meta.escalation]
    targets = sorted(v for k, v in plan.items() if k.kind == DueKind.TARGET)
    assert targets == [incident.declared_at + s * 1000 for _, _, s in book.meta.targets.set()]


def test_forty_step_phase_fits_one_message(tmp_path):
    steps = "\n".join(f"- [ ] Step number {i} with a reasonably long description of what to check here"
                      for i in range(40))
    path = tmp_path / "big.md"
    path.write_text(f"---\nkey: big\ntitle: Big\n---\n## Assess\n{steps}\n## Diagnose\n- [ ] a\n"
                    "## Mitigate\n- [ ] b\n## Resolve\n- [ ] c\n")
    book = parse_playbook(path)
    done = {f"0:{i}": StepState(state="done", by="U0123456789", at=1_700_000_000_000) for i in range(40)}
    _, message = blocks.phase_message(sample_incident("big", steps=done), book, 0)
    assert validate_blocks(message) is None


GOOD_FRONT = "---\nkey: t\ntitle: T\n---\n"
GOOD_BODY = "## Assess\n- [ ] a\n## Diagnose\n- [ ] b\n## Mitigate\n- [ ] c\n## Resolve\n- [ ] d\n"


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("no front matter\n", 1, "starts with YAML front matter"),
    ("---\nkey: t\ntitle: [unclosed\n---\n" + GOOD_BODY, 3, "not valid YAML"),
    ("---\nkey: t\ntitle: T\nseverity: P7\n---\n" + GOOD_BODY, 4, "severity"),
    ("---\nkey: t\ntitle: T\nescalation:\n  - after: 15\n    notify: [a]\n    message: m\n---\n" + GOOD_BODY, 5,
     "duration"),
    ("---\nkey: t\ntitle: T\nescalation:\n  - after: soon\n    notify: [a]\n    message: m\n---\n" + GOOD_BODY, 5,
     "not a duration"),
    ("---\nkey: t\ntitle: T\nbogus: 1\n---\n" + GOOD_BODY, 4, "bogus"),
    ("---\nkey: t\ntitle: T\ntargets:\n  acknowledge: 60\n---\n" + GOOD_BODY, 5, "duration"),
    ("---\nkey: t\ntitle: T\ntargets:\n  acknowledge: 9h\n  resolve: 8h\n---\n" + GOOD_BODY, 4,
     "must come before the resolve target"),
    ("---\nkey: t\ntitle: T\ntargets:\n  respond: 1h\n---\n" + GOOD_BODY, 5, "targets.respond"),
    ("---\nkey: t\ntitle: T\ntargets:\n  resolve: 8h\n  notify: []\n---\n" + GOOD_BODY, 6, "targets.notify"),
    ("---\nkey: t\ntitle: T\nreview_within: two days\n---\n" + GOOD_BODY, 4, "review_within"),
    (GOOD_FRONT + "## Assess\n- [ ] a\n## Mitigate\n- [ ] c\n", 7, "out of order"),
    (GOOD_FRONT + "## Assess\n- [ ] a\n## Diagnose\n- [ ] b\n", 9, "missing phase"),
    (GOOD_FRONT + "## Assess\nprose only\n## Diagnose\n- [ ] b\n## Mitigate\n- [ ] c\n## Resolve\n- [ ] d\n", 5,
     "has no steps"),
    (GOOD_FRONT + "## Triage\n- [ ] a\n", 5, "not a phase"),
    (GOOD_FRONT + "intro\n" + GOOD_BODY, 5, "before the first phase"),
])
def test_broken_playbook_names_file_line_and_reason(tmp_path, text, line, reason):
    path = tmp_path / "broken.md"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        parse_playbook(path)
    message = info.value.user_message
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message


def test_duplicate_key_and_command_words_are_refused(tmp_path):
    (tmp_path / "a.md").write_text(GOOD_FRONT + GOOD_BODY)
    (tmp_path / "b.md").write_text(GOOD_FRONT + GOOD_BODY)
    with pytest.raises(ConfigError, match="already used"):
        load_playbooks(tmp_path)
    (tmp_path / "b.md").write_text(GOOD_FRONT.replace("key: t", "key: note") + GOOD_BODY)
    with pytest.raises(ConfigError, match="command word"):
        load_playbooks(tmp_path)


def test_step_detail_keeps_code_and_sub_bullets(tmp_path):
    path = tmp_path / "d.md"
    path.write_text(GOOD_FRONT + "## Assess (0–60 min)\nWhy this phase.\n\n- [ ] Check it\n  - first\n  ```bash\n"
                    "  kubectl get pods\n  ```\n- [ ] Next\n## Diagnose\n- [ ] b\n## Mitigate\n- [ ] c\n"
                    "## Resolve\n- [ ] d\n")
    book = parse_playbook(path)
    assess = book.phases[0]
    assert assess.label == "Assess (0–60 min)" and assess.window_end == 3600
    assert assess.description == "Why this phase."
    assert assess.steps[0].detail == "- first\n```bash\nkubectl get pods\n```"
    assert assess.steps[0].line == 8 and assess.steps[1].detail == ""


TARGETS_BOOK = parse_playbook(Path(__file__).resolve().parent / "playbooks" / "targets.md")
DECLARED = 1_700_000_000_000


def targets_field(incident: Incident) -> str:
    fields = blocks.card(incident, TARGETS_BOOK)[1][1]["fields"]
    return next(f["text"] for f in fields if f["text"].startswith("*Targets*"))


def test_targets_front_matter_is_parsed_and_their_roles_count_as_playbook_roles(tmp_path):
    meta = TARGETS_BOOK.meta
    assert (meta.targets.acknowledge, meta.targets.resolve, meta.review_within) == (2, 3, 7 * 86400)
    assert meta.targets.set() == [(0, "acknowledge", 2), (1, "resolve", 3)]
    assert {"incident-manager", "unmapped-manager"} <= TARGETS_BOOK.roles()
    # Without targets, neither their default role nor a Targets field on the card.
    (tmp_path / "plain.md").write_text(GOOD_FRONT + GOOD_BODY)
    plain = parse_playbook(tmp_path / "plain.md")
    assert plain.meta.targets.set() == [] and plain.roles() == set() and plain.meta.review_within is None
    fields = blocks.card(sample_incident("t"), plain)[1][1]["fields"]
    assert not any(f["text"].startswith("*Targets*") for f in fields)


def test_targets_are_planned_from_declaration_and_removed_at_resolve():
    incident = sample_incident("targets", declared_at=DECLARED)
    plan = plan_for_incident(incident, TARGETS_BOOK)
    assert {due.index: at for due, at in plan.items() if due.kind == DueKind.TARGET} == \
        {0: DECLARED + 2000, 1: DECLARED + 3000}
    assert {due.member for due in plan} <= set(all_members(incident.id, TARGETS_BOOK))
    assert Due.parse("target|42|1") == Due(DueKind.TARGET, "42", 1)


def test_card_shows_each_target_deadline_then_whether_it_was_met():
    secs = DECLARED // 1000
    fresh = targets_field(sample_incident("targets", declared_at=DECLARED))
    assert f"Acknowledge by <!date^{secs + 2}^" in fresh and "(the 2 seconds target)" in fresh
    assert f"Resolve by <!date^{secs + 3}^" in fresh and "missed" not in fresh
    missed = targets_field(sample_incident("targets", declared_at=DECLARED, target_at={0: DECLARED + 2100}))
    assert missed.count("⏰ *missed*") == 1 and "Acknowledge by" in missed.split("\n")[1]
    on_time = targets_field(sample_incident("targets", declared_at=DECLARED, acknowledged_at=DECLARED + 1500,
                                            acknowledged_by="U_BOB"))
    assert f"✅ Acknowledged <!date^{secs + 1}^" in on_time and "by <@U_BOB>, within the 2 seconds target" in on_time
    late = targets_field(sample_incident("targets", declared_at=DECLARED, acknowledged_at=DECLARED + 2001,
                                         acknowledged_by="U_BOB", target_at={0: DECLARED + 2000}))
    assert "⚠️ Acknowledged" in late and "1s after the 2 seconds target" in late and "missed" not in late
    resolved = targets_field(sample_incident("targets", declared_at=DECLARED, status="resolved",
                                             acknowledged_at=DECLARED + 1000, acknowledged_by="U_BOB",
                                             resolved_at=DECLARED + 65_000, resolved_by="U_BOB"))
    assert "⚠️ Resolved" in resolved and "1m after the 3 seconds target" in resolved
    assert "Resolve by" not in resolved


def test_full_card_stays_within_the_ten_fields_a_section_holds():
    incident = sample_incident("targets", declared_at=DECLARED, status="resolved", service="checkout-api",
                               resolved_at=DECLARED + 65_000, resolved_by="U_BOB", rca_status="due",
                               rca_due_at=DECLARED + 65_000 + 7 * 86_400_000)
    assert validate_blocks(blocks.card(incident, TARGETS_BOOK)[1]) is None


def test_target_reminder_mentions_the_roster_and_names_unmapped_roles():
    incident = sample_incident("targets", declared_at=DECLARED)
    roster = parse_roster({"incident-manager": "U_IM"})
    ack = blocks.target_missed(incident, TARGETS_BOOK, 0, roster)
    assert ack.startswith("⏰ <@U_IM> *unmapped-manager* (no roster entry) *INC-42*")
    assert "not been acknowledged within its 2 seconds target" in ack
    late = blocks.target_missed(incident, TARGETS_BOOK, 1, parse_roster({"incident-manager": "S_MANAGERS"}))
    assert "<!subteam^S_MANAGERS>" in late and "still open past its 3 seconds resolution target" in late
