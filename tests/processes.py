"""Real `thotis …` processes for tests: started with a given environment, their stderr collected line
by line, stopped (and killed if need be) whatever happens in the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class ThotisProcess:
    """One `python -m adapter.cli COMMAND` process; `lines` grows while it writes to stderr."""

    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "adapter.cli", *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_for(self, check: Callable[[], bool], seconds: float, what: str) -> None:
        """Poll `check` until it holds; fail (with the process's stderr) after `seconds` or if it exits."""
        deadline = time.monotonic() + seconds
        while not check():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.args} exited ({self.process.returncode}) before {what}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {seconds} s waiting for {what}:\n{self.stderr()}")
            time.sleep(0.05)

    def terminate(self, seconds: float) -> int:
        """SIGTERM, then the exit code within `seconds` (killed and failed otherwise)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError(f"{self.args} did not stop within {seconds} s of SIGTERM:\n{self.stderr()}") from None
        self._reader.join(5)
        return code

    def stderr(self) -> str:
        return "\n".join(self.lines)

    def records(self) -> list[dict[str, Any]]:
        """Every stderr line as the JSON object it must be (fails on the first line that is not one)."""
        parsed = []
        for line in self.lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
            assert isinstance(record, dict), line
            parsed.append(record)
        return parsed

    def stop(self) -> None:
        """Make sure the process is gone (test clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@contextmanager
def thotis(args: list[str], env: Mapping[str, str]) -> Iterator[ThotisProcess]:
    """A `thotis` process for the duration of the block, killed at the end if still running."""
    started = ThotisProcess(args, env)
    try:
        yield started
    finally:
        started.stop()
