"""Playbook commands work when pasted: every shell block parses, and none of the patterns that broke before
(or destroyed something without a warning) is back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.playbook_lint import SHELL, WARNING, code_blocks, problems

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.md"))
BASH = shutil.which("bash")


def bash_syntax_errors(code: str) -> str:
    """What `bash -n` says about `code`; empty when it parses."""
    assert BASH is not None
    result = subprocess.run([BASH, "-n"], input=code, capture_output=True, text=True, timeout=10)
    return result.stderr.strip() if result.returncode else ""


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_every_shell_block_parses(path):
    shell = [b for b in code_blocks(path) if b.info in SHELL]
    assert shell, "a playbook without commands is not what the team wrote"
    errors = [f"{path}:{b.line}: {err}" for b in shell if (err := bash_syntax_errors(b.code))]
    assert errors == []


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_no_known_broken_pattern_and_every_destructive_step_warns(path):
    assert problems(path) == []


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_n_catches_a_block_that_cannot_run():
    assert bash_syntax_errors('echo "$(date') != ""
    assert bash_syntax_errors("for i in 1 2; do echo $i; done") == ""


BROKEN = """---
key: broken
title: The commands as they were
---
## Assess
- [ ] Read p95 latency
  ```bash
  # Prometheus
  curl -s "http://prometheus:9090/api/v1/query?query=histogram_quantile(0.95,%20rate(x_bucket[5m]))" | jq .
  ```
- [ ] Pool ratio
  ```bash
  # Prometheus
  curl -sg "http://prometheus:9090/api/v1/query?query=rate(gets[5m]) / rate(puts[5m])"
  ```
- [ ] Slow statements
  ```bash
  # PostgreSQL
  psql -c "SELECT query, mean_time, calls, total_time FROM pg_stat_statements ORDER BY mean_time DESC LIMIT 10;"
  ```
## Diagnose
- [ ] Indexes and tuning
  ```bash
  # Docker Compose · PostgreSQL
  docker-compose exec postgres psql -c "
  CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t(x);
  CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t(y);
  "
  docker-compose exec postgres psql -c "
  ALTER SYSTEM SET shared_buffers = '256MB';
  SELECT pg_reload_conf();
  "
  ```
- [ ] Slow operations
  ```bash
  # Node.js application host
  grep "took [0-9][0-9][0-9]ms" logs/combined.log
  ```
- [ ] Profile
  ```javascript
  // MongoDB
  db.setProfilingLevel(2, 100);
  ```
## Mitigate
- [ ] Restart affected pods
  ```bash
  # Kubernetes
  kubectl delete pods -n bolt-logging -l app=bolt-app
  ```
- [ ] Clean up
  ```bash
  find /var/log/llm-config -name "*.log" -mtime +30 -delete
  ```
- [ ] Flush with `docker-compose exec redis redis-cli FLUSHALL` if needed
## Resolve
- [ ] Done
  ```
  no language
  ```
"""


def test_the_checks_catch_each_broken_original(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text(BROKEN)
    found = problems(path)
    expected = [
        (7, "curl URL with [ ] or { } and no -g"),
        (12, "unencoded space"),
        (17, "used without saying which version"),
        (23, "two CONCURRENTLY statements in one psql -c"),
        (23, "ALTER SYSTEM cannot run inside a multi-statement -c"),
        (35, "exactly three digits misses values of 1,000"),
        (40, "profiling level 2 records every operation"),
        (1, "never off again"),
        (46, "deletes every matching pod at once"),
        (46, f"deletes Kubernetes objects, but its step does not start with '{WARNING}'"),
        (51, "deletes files, but its step does not start with"),
        (51, "the first line is not a comment naming the stack"),
        (54, "empties the cache, but the step does not start with"),
        (57, "a code block without a language"),
    ]
    for line, reason in expected:
        assert any(p.startswith(f"{path}:{line}: ") and reason in p for p in found), (line, reason, found)
    assert len(found) == len(expected) + 1  # the unlabelled block at line 57 also names no stack
    # The same step, warned: the destructive findings go, the one-at-a-time rule stays.
    path.write_text(BROKEN.replace("- [ ] Restart affected pods", f"- [ ] {WARNING} deletes every pod at once"))
    again = problems(path)
    assert not any(p.startswith(f"{path}:46: ") and "does not start with" in p for p in again)
    assert any(p.startswith(f"{path}:46: ") and "one replica at a time" in p for p in again)
