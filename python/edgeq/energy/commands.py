"""Running external measuring tools (perf, vcgencmd, powermetrics) behind a small interface,
so tests can replace them with recorded outputs.

    runner.which(name)          -> path or None
    runner.run(argv, timeout)   -> (returncode, stdout, stderr); one-shot commands
    runner.spawn(argv, env)     -> Process: a tool that measures until told to stop
        process.wait_line(timeout) -> next stdout line (None at end of output or timeout)
        process.finish(sig, timeout) -> (returncode, stdout, stderr): sends `sig` (None: closes
                                        its stdin), waits, and collects the rest of its output
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
from typing import Dict, List, Optional, Sequence, Tuple

Result = Tuple[int, str, str]


class Process:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._out: List[str] = []
        self._err: List[str] = []
        self._threads = [threading.Thread(target=self._pump, args=(proc.stdout, self._out, True),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(proc.stderr, self._err, False),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink: List[str], announce: bool) -> None:
        for line in stream:
            sink.append(line)
            if announce:
                self._lines.put(line)
        if announce:
            self._lines.put(None)

    def wait_line(self, timeout: float) -> Optional[str]:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def finish(self, sig: Optional[int] = None, timeout: float = 10.0) -> Result:
        try:
            if sig is None:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            else:
                self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        finally:
            for t in self._threads:
                t.join(timeout)
        return rc, "".join(self._out), "".join(self._err)


class CommandRunner:
    def which(self, name: str) -> Optional[str]:
        return shutil.which(name)

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> Result:
        """Raises FileNotFoundError when the program does not exist."""
        try:
            p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, "", f"{argv[0]} timed out after {timeout:g} s"
        return p.returncode, p.stdout, p.stderr

    def spawn(self, argv: Sequence[str], env: Optional[Dict[str, str]] = None) -> Process:
        full_env = dict(os.environ, **(env or {}))
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=full_env)
        return Process(proc)


SIGINT = signal.SIGINT
