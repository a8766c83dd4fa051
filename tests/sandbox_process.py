"""`python -m bot sandbox` as a person starts it: from a folder of their own, with no Slack settings."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from bot.embedded_redis import free_port
from tests.test_service import alive, children

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"^Sandbox ready: open (http://127\.0\.0\.1:\d+/) ")
# The embedded Redis says where its data lives (a temporary folder the sandbox must remove).
STATE_DIR = re.compile(r"with data in (\S+) \(append-only file on\)")


class Sandbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.log = folder / "sandbox.log"
        self.proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self.url = ""

    def start(self) -> None:
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "PORT": str(self.port),
               "PLAYBOOKS_DIR": str(ROOT / "playbooks"), "TEMPLATES_DIR": str(ROOT / "templates")}
        with self.log.open("w") as log:
            # A process group of its own, like a command started in a terminal: Ctrl-C signals all of it.
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "sandbox"], cwd=self.folder, env=env,
                                         stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [self._lines.put(line) for line in stdout], daemon=True).start()

    def wait_ready(self, timeout: float = 30.0) -> str:  # noqa: ASYNC109 - not async
        """The line that says where the page is; AssertionError with the log if it does not come in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no ready line within {timeout} s; log:\n{self.log.read_text()}") from None
        found = READY.match(line)
        assert found, f"unexpected first line {line!r}; log:\n{self.log.read_text()}"
        self.url = found.group(1)
        return line

    def children(self) -> list[int]:
        assert self.proc is not None
        return children(self.proc.pid)

    def state_dir(self) -> Path:
        found = STATE_DIR.search(self.log.read_text())
        assert found, self.log.read_text()
        return Path(found.group(1))

    def stop(self, sig: int = signal.SIGTERM, *, group: bool = False,
             timeout: float = 30.0) -> tuple[int, list[int]]:  # noqa: ASYNC109
        """Signal it (with `group`, its whole process group, as Ctrl-C in a terminal does) and wait for the exit:
        (exit code, its children still alive after it, which are then killed so that no test leaves a process
        behind). AssertionError if it does not exit in time."""
        assert self.proc is not None
        kids = self.children() if self.proc.poll() is None else []
        hung = False
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                hung = True
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        left = [pid for pid in kids if alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        if hung:
            raise AssertionError(f"the sandbox did not stop within {timeout} s of signal {sig}")
        return self.proc.returncode, left

