"""Headless Chromium driven over the DevTools protocol, on a pipe: no port, no extra library.

``--remote-debugging-pipe`` makes Chromium read commands from fd 3 and write answers and events
to fd 4, each a JSON message ending in NUL. A reader thread splits that stream into a queue;
:meth:`Chromium.call` sends one command and waits for its answer, keeping the events it sees on
the way, and :meth:`Chromium.wait_for` waits for an event. Every wait has a deadline, so a hung
browser fails the test with what it was waiting for instead of blocking the run.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import itertools
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

INSTALL_HINT = ("run `.ci/install-test-tools.sh` (it installs Debian's `chromium`), "
                "or `apt-get install chromium`")
WINDOW = (1280, 900)
TIMEOUT = 30.0  # one command or event; Chromium's first start on a busy 2-core machine is slow


def find_chromium() -> str | None:
    """Debian's launcher (`chromium`), else the names other distributions use."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


def _high_fd(fd: int) -> int:
    """``fd`` moved to 10 or above, so the child's dup2 onto 3 and 4 cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _fail_on_dialog(event: dict[str, Any]) -> None:
    if event.get("method") == "Page.javascriptDialogOpening":
        params = event.get("params", {})
        raise BrowserError(f"a script on {params.get('url')} opened a dialog "
                           f"({params.get('type')} {params.get('message')!r})")


class Chromium:
    """One headless Chromium with one page (a tab), attached in flat session mode."""

    def __init__(self, binary: str, profile_dir: Path, window: tuple[int, int] = WINDOW) -> None:
        self.binary = binary
        self.profile_dir = profile_dir
        self.window = window
        self.events: list[dict[str, Any]] = []  # every event seen, in order, for assertions
        self._ids = itertools.count(1)
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: Any = None  # our end of Chromium's fd 3
        self._session = ""
        self._stderr_path = profile_dir / "chromium.stderr"

    # -- process ----------------------------------------------------------------------------

    def start(self) -> Chromium:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        cmd_r, cmd_w = (_high_fd(fd) for fd in os.pipe())
        out_r, out_w = (_high_fd(fd) for fd in os.pipe())

        def in_child() -> None:
            if sys.platform == "linux":
                ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: dies with us
            os.dup2(cmd_r, 3)  # dup2 clears close-on-exec: only 3 and 4 are inherited
            os.dup2(out_w, 4)

        args = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                f"--window-size={self.window[0]},{self.window[1]}",
                f"--user-data-dir={self.profile_dir}", "--remote-debugging-pipe",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--mute-audio",
                "--hide-scrollbars", "--force-device-scale-factor=1", "--no-proxy-server",
                "--no-pings", "--disable-domain-reliability",
                "--disable-features=OptimizationHints,MediaRouter,Translate",
                # The page may only reach the sandbox: every other name fails to resolve.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank"]
        with open(self._stderr_path, "wb") as stderr:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=stderr,
                                          close_fds=False, preexec_fn=in_child)
        os.close(cmd_r)
        os.close(out_w)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        threading.Thread(target=self._read, args=(out_r,), name="chromium-cdp",
                         daemon=True).start()
        try:
            # The first answer proves the browser is up and speaking the protocol.
            self.version = self.call("Browser.getVersion", session=False)["product"]
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
            self._session = self.call("Target.attachToTarget",
                                      {"targetId": target["targetId"], "flatten": True},
                                      session=False)["sessionId"]
            for domain in ("Page.enable", "Runtime.enable"):
                self.call(domain)
        except BaseException:
            self.stop()
            raise
        return self

    def _read(self, fd: int) -> None:
        buffer = b""
        try:
            with os.fdopen(fd, "rb", buffering=0) as stream:
                while chunk := stream.read(1 << 16):
                    buffer += chunk
                    *messages, buffer = buffer.split(b"\0")
                    for message in messages:
                        self._inbox.put(orjson.loads(message))
        finally:
            self._inbox.put(None)  # the browser closed its end (it exited), or spoke garbage

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            self._out.close()  # Chromium exits when its debugging pipe closes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def __enter__(self) -> Chromium:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stderr_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = self._stderr_path.read_text(errors="replace").splitlines()
            return "\n".join(text[-lines:])
        return "(no stderr)"

    # -- protocol ---------------------------------------------------------------------------

    def _next(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise BrowserError(f"no {waiting_for} from Chromium within {TIMEOUT:.0f}s; "
                               f"its stderr:\n{self.stderr_tail()}") from None
        if message is None:
            self._inbox.put(None)
            raise BrowserError(f"Chromium exited while waiting for {waiting_for}; "
                               f"its stderr:\n{self.stderr_tail()}")
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: bool = True, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send one command (to the page unless ``session=False``), return its result."""
        if self._proc is None:
            raise BrowserError("Chromium is not running")
        command_id = next(self._ids)
        message: dict[str, Any] = {"id": command_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._out.write(orjson.dumps(message) + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._next(deadline, f"answer to {method}")
            if answer.get("id") != command_id:
                if "method" in answer:
                    self.events.append(answer)
                    _fail_on_dialog(answer)
                continue
            if "error" in answer:
                raise BrowserError(f"{method} failed: {answer['error']}")
            return answer.get("result", {})

    def wait_for(self, *methods: str, matches: Callable[[dict[str, Any]], bool] = lambda _: True,
                 timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event named in ``methods`` that ``matches``, seen from now on: the whole
        message, ``{"method": ..., "params": ...}``."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._next(deadline, f"event {' or '.join(methods)}")
            if "method" in event:
                self.events.append(event)
                if event["method"] in methods and matches(event.get("params", {})):
                    return event

    def event_names(self) -> list[str]:
        return [e["method"] for e in self.events]

    # -- what a test does with a page -------------------------------------------------------

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page; a page exception fails the call."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _wait_loaded(self, url: str) -> None:
        """Wait until ``url`` has fired its load event (a positive signal, not a pause).

        A script that opens a dialog (``alert``) holds the load back and every later command:
        that fails at once, named as such (no page of the sandbox has a script)."""
        while not self.evaluate(f"location.href === {orjson.dumps(url).decode()} "
                                "&& document.readyState === 'complete'"):
            _fail_on_dialog(self.wait_for("Page.loadEventFired", "Page.javascriptDialogOpening"))

    def goto(self, url: str) -> None:
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url} failed: {result['errorText']}")
        self._wait_loaded(url)

    def click(self, selector: str) -> None:
        """Click the centre of the first element matching ``selector``, as a mouse would."""
        box = self.evaluate(
            f"(() => {{ const el = document.querySelector({orjson.dumps(selector).decode()});"
            " if (!el) return null; el.scrollIntoView({block: 'center'});"
            " const r = el.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
        if box is None:
            raise BrowserError(f"nothing on the page matches {selector!r}")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"],
                                                   "button": "left", "clickCount": 1})

    def click_link(self, selector: str) -> str:
        """Click a link and wait for the page it leads to; returns that page's URL."""
        href = self.evaluate(f"document.querySelector({orjson.dumps(selector).decode()}).href")
        self.click(selector)
        self._wait_loaded(href)
        return str(href)

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the window) as a PNG at ``path``."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
