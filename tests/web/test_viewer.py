"""The log viewer's JavaScript in Chromium, against a scripted stand-in for the log WebSockets.

No Docker here: a small FastAPI app serves the dashboard's static files, a blank page to load the
modules into, and a fake `/ws/deployment/logs` (and `/ws/container/logs`, the runtime log) whose
every connection follows a script, so drops, replays, gaps and reconnects happen exactly when the
test says.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
import uvicorn
from browser_support import open_page
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse

from mist.web import routes

Plan = Callable[[WebSocket, int], Awaitable[None]]


class FakeLogs:
    """What the fake server does on each connection, and what it was asked."""

    def __init__(self) -> None:
        self.plans: list[Plan] = []
        self.connections: list[dict[str, str]] = []
        self.stored = ""
        self.container_plans: list[Plan] = []
        self.container_connections: list[dict[str, str]] = []


def log(seq: int, line: str) -> dict:
    return {"type": "log", "timestamp": "2026-01-01T00:00:00Z", "data": {"line": line}, "seq": seq}


def status(state: str, stage: str, progress: int) -> dict:
    return {"type": "status", "timestamp": "2026-01-01T00:00:00Z", "data": {
        "deployment_id": 1, "status": state, "stage": stage, "progress": progress, "message": "", "error_message": ""}}


async def until_disconnect(ws: WebSocket) -> None:
    try:
        while True:
            await ws.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return


def make_app(fake: FakeLogs) -> FastAPI:
    app = FastAPI()
    app.include_router(routes.router)

    @app.get("/harness")
    def harness() -> HTMLResponse:
        return HTMLResponse('<!doctype html><html><head><link rel="stylesheet" href="/static/css/app.css">'
                            '</head><body><main id="root" style="padding:1rem"></main>'
                            '<div id="toasts"></div></body></html>')

    @app.get("/api/deployment/logs/{deployment_id}")
    def stored(deployment_id: int) -> PlainTextResponse:
        return PlainTextResponse(fake.stored)

    @app.websocket("/ws/deployment/logs")
    async def logs(ws: WebSocket) -> None:
        fake.connections.append(dict(ws.query_params))
        plan = fake.plans.pop(0) if fake.plans else None
        await ws.accept()
        if plan is None:
            await until_disconnect(ws)
            return
        try:
            await plan(ws, int(ws.query_params.get("since", "0")))
        except WebSocketDisconnect:
            return

    @app.websocket("/ws/container/logs")
    async def container_logs(ws: WebSocket) -> None:
        fake.container_connections.append(dict(ws.query_params))
        plan = fake.container_plans.pop(0) if fake.container_plans else None
        await ws.accept()
        try:
            await (plan(ws, 0) if plan else until_disconnect(ws))
        except WebSocketDisconnect:
            return

    return app


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[str, FakeLogs]]:
    fake = FakeLogs()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(fake), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", fake
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def harness(browser, fake_server):
    url, fake = fake_server
    fake.plans.clear()
    fake.connections.clear()
    fake.stored = ""
    fake.container_plans.clear()
    fake.container_connections.clear()
    context, page, errors = open_page(browser, url)
    page.goto("/harness")
    page.evaluate("""async () => {
        const m = await import('/static/js/logviewer.js');
        window.lv = m;
        window.view = new m.LogView({downloadUrl: '/api/deployment/logs/1', downloadName: 'd.log'});
        document.getElementById('root').append(window.view.element);
        window.statuses = [];
        window.startStream = () => {
            window.stream = new m.LogStream(1, {
                onLines: (b) => window.view.appendLines(b),
                onStatus: (d) => window.statuses.push(d),
                onState: (s) => window.view.setState(s),
                fetchStored: () => fetch('/api/deployment/logs/1').then((r) => r.text()),
            }, {backoff: [50, 100, 200]}).start();
        };
    }""")
    yield page, fake
    page.evaluate("() => { window.stream && window.stream.close(); window.runtime && window.runtime.close(); }")
    context.close()
    assert errors == [], errors


def lines_of(page) -> list[str]:
    return page.evaluate("() => window.view.lines()")


def seqs_of(page) -> list[int]:
    return page.evaluate("() => Array.from(document.querySelectorAll('.log-line'), (el) => Number(el.dataset.seq))")


LINES = [f"step {i}: \x1b[3{i % 8}mcolour {i}\x1b[0m" for i in range(10)]
TEXTS = [f"step {i}: colour {i}" for i in range(10)]


@pytest.mark.parametrize("server_honours_since", [False, True], ids=["replays-all", "honours-since"])
def test_a_dropped_connection_resumes_where_it_stopped(harness, server_honours_since: bool) -> None:
    page, fake = harness
    async def first(ws: WebSocket, since: int) -> None:
        for seq in range(5):
            await ws.send_json(log(seq, LINES[seq]))
        await ws.send_json(status("building", "building_image", 50))
        await until_disconnect(ws)

    async def second(ws: WebSocket, since: int) -> None:
        start = since if server_honours_since else 0
        for seq in range(start, 10):
            await ws.send_json(log(seq, LINES[seq]))
        await ws.send_json(status("success", "completed", 100))
        await ws.close()

    fake.plans[:] = [first, second]
    page.evaluate("() => window.startStream()")
    page.wait_for_function("() => window.view.lines().length === 5")
    assert page.evaluate("() => window.stream.currentState") == "live"
    page.evaluate("() => window.stream.drop(300)")
    page.wait_for_function("() => window.stream.currentState === 'reconnecting'")
    assert page.locator("[data-testid=log-connection]").inner_text().startswith("connection lost")
    page.wait_for_function("() => window.stream.final")

    assert lines_of(page) == TEXTS
    assert seqs_of(page) == list(range(10))
    assert [c.get("since") for c in fake.connections] == [None, "5"]
    stats = page.evaluate("() => window.stream.stats")
    assert stats["connects"] == 2 and stats["drops"] == 1
    assert stats["duplicates"] == (0 if server_honours_since else 5)
    assert page.evaluate("() => window.statuses.map((s) => s.status)") == ["building", "success"]
    assert page.locator("[data-testid=log-connection]").inner_text() == "finished"


def test_a_server_side_close_before_the_end_reconnects_by_itself(harness) -> None:
    page, fake = harness

    async def cut(ws: WebSocket, since: int) -> None:
        for seq in range(3):
            await ws.send_json(log(seq, LINES[seq]))
        await ws.close(1013, "too far behind; reconnect to resume")

    async def refused(ws: WebSocket, since: int) -> None:
        await ws.close(1011)

    async def rest(ws: WebSocket, since: int) -> None:
        for seq in range(10):
            await ws.send_json(log(seq, LINES[seq]))
        await ws.send_json({"type": "error", "timestamp": "", "data": {"message": "boom"}})
        await ws.send_json(status("failed", "building_image", 50))
        await ws.close()

    fake.plans[:] = [cut, refused, rest]
    page.evaluate("() => window.startStream()")
    page.wait_for_function("() => window.stream.final", timeout=10_000)
    assert lines_of(page) == TEXTS
    assert [c.get("since") for c in fake.connections] == [None, "3", "3"]
    assert page.evaluate("() => window.statuses.at(-1).status") == "failed"


def test_a_gap_left_at_the_end_is_filled_from_the_stored_log(harness) -> None:
    page, fake = harness
    fake.stored = "".join(line + "\n" for line in LINES[:4])

    async def gappy(ws: WebSocket, since: int) -> None:
        for seq in (0, 1, 3):
            await ws.send_json(log(seq, LINES[seq]))
        await ws.send_json(status("success", "completed", 100))
        await ws.close()

    fake.plans[:] = [gappy]
    page.evaluate("() => window.startStream()")
    page.wait_for_function("() => window.view.lines().length === 4")
    assert lines_of(page) == TEXTS[:4]
    assert seqs_of(page) == [0, 1, 2, 3]


def test_the_view_follows_the_tail_until_the_reader_scrolls_up(harness) -> None:
    page, fake = harness
    release = threading.Event()

    async def lots(ws: WebSocket, since: int) -> None:
        for seq in range(200):
            await ws.send_json(log(seq, f"line {seq}"))
        while not release.is_set():
            await asyncio.sleep(0.02)
        for seq in range(200, 400):
            await ws.send_json(log(seq, f"line {seq}"))
        await ws.send_json(status("success", "completed", 100))
        await ws.close()

    fake.plans[:] = [lots]
    page.evaluate("() => window.startStream()")
    page.wait_for_function("() => window.view.lines().length === 200")
    at_bottom = "() => { const b = window.view.body; return b.scrollHeight - b.scrollTop - b.clientHeight < 2; }"
    page.wait_for_function(at_bottom)
    # The reader scrolls up: new lines no longer move the view, and a Follow button appears.
    page.locator("[data-testid=log]").hover()
    page.mouse.wheel(0, -3000)
    page.wait_for_function("() => !window.view.follow")
    top = page.evaluate("() => window.view.body.scrollTop")
    release.set()
    page.wait_for_function("() => window.view.lines().length === 400")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.view.body.scrollTop") == top
    follow = page.get_by_role("button", name="↓ Follow")
    assert follow.is_visible()
    follow.click()
    page.wait_for_function(at_bottom)
    assert not follow.is_visible()


ANSI_CASES = [
    # (line, [(text, fg, bold)])
    ("plain", [("plain", None, False)]),
    ("\x1b[31mred\x1b[0m back", [("red", 31, False), (" back", None, False)]),
    ("\x1b[1;92mbold bright green\x1b[22m thin", [("bold bright green", 92, True), (" thin", 92, False)]),
    # 38;5;n and 38;2;r;g;b carry arguments that are not codes (5 is not "blink", 32 not green).
    ("\x1b[38;5;196;31mred\x1b[39m default", [("red", 31, False), (" default", None, False)]),
    ("\x1b[38;2;1;32;3mtrue colour", [("true colour", None, False)]),
    ("\x1b[2K\x1b[1Acursor moves vanish\x1b]0;title\x07", [("cursor moves vanish", None, False)]),
    ("\x1b[34m<b>not bold</b>\x1b[m", [("<b>not bold</b>", 34, False)]),
    ("lone \x1b escape", [("lone  escape", None, False)]),
]


@pytest.mark.parametrize(("line", "runs"), ANSI_CASES)
def test_ansi_sgr_runs(harness, line: str, runs: list) -> None:
    page, _ = harness
    got = page.evaluate("async (line) => (await import('/static/js/ansi.js')).parseAnsi(line)", line)
    assert [(r["text"], r["fg"], r["bold"]) for r in got] == runs


def test_colours_carry_over_lines_and_markup_stays_text(harness) -> None:
    page, _ = harness
    page.evaluate("""() => window.view.appendLines([
        {seq: 0, line: '\\x1b[33mstarts yellow'},
        {seq: 1, line: 'still yellow\\x1b[0m, then plain <img src=x onerror="window.__xss=1">'},
        {seq: 2, line: '\\x1b[1mbold\\x1b[0m'},
    ])""")
    log_el = page.locator("[data-testid=log]")
    assert log_el.locator("img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert log_el.locator(".log-line").nth(1).inner_text().endswith('then plain <img src=x onerror="window.__xss=1">')
    assert log_el.locator(".ansi-fg-33").all_inner_texts() == ["starts yellow", "still yellow"]
    assert log_el.locator(".ansi-bold").all_inner_texts() == ["bold"]
    colour = page.evaluate("() => getComputedStyle(document.querySelector('.ansi-fg-33')).color")
    assert colour == "rgb(224, 179, 75)"


def runtime_log(stamp: int, line: str) -> dict:
    """A line of WS /ws/container/logs: the engine's fixed-width timestamp, no seq."""
    timestamp = f"2026-01-01T00:00:{stamp:02d}.000000000Z"
    return {"type": "log", "timestamp": "", "data": {"timestamp": timestamp, "line": line}}


def start_runtime(page, max_lines: int = 50) -> None:
    page.evaluate("""async (maxLines) => {
        const m = await import('/static/js/containerlog.js');
        window.runtimeView = new window.lv.LogView({label: 'Runtime log', testid: 'runtime-log', maxLines});
        document.getElementById('root').append(window.runtimeView.element);
        window.runtimeStatuses = [];
        let seq = 0;
        window.runtime = new m.ContainerLogStream(7, {
            onLine: ({line, timestamp}) => window.runtimeView.appendLines([{seq: seq++, line, title: timestamp}]),
            onStatus: (d) => {
                window.runtimeStatuses.push(d);
                window.runtimeView.appendMarker(`container ${d.state}`);
            },
            onError: (text) => window.runtimeView.appendMarker(text, 'error'),
            onState: (s) => window.runtimeView.setState(s),
        }, {backoff: [50, 100, 200], tail: 200}).start();
    }""", max_lines)


def runtime_texts(page) -> list[str]:
    return page.evaluate("() => window.runtimeView.lines()")


def test_the_runtime_log_skips_what_a_reconnect_replays(harness) -> None:
    """After a drop the server sends the tail again: lines older than the last one shown are skipped,
    and at its timestamp only the copies already shown (two identical lines may share a stamp)."""
    page, fake = harness
    first_lines = [(1, "a"), (2, "b"), (3, "same"), (3, "same")]

    async def first(ws: WebSocket, _: int) -> None:
        for stamp, line in first_lines:
            await ws.send_json(runtime_log(stamp, line))
        await until_disconnect(ws)

    async def replay(ws: WebSocket, _: int) -> None:
        for stamp, line in [*first_lines, (3, "same"), (4, "c")]:
            await ws.send_json(runtime_log(stamp, line))
        await ws.send_json({"type": "status", "timestamp": "", "data": {"state": "exited"}})
        await ws.send_json({"type": "error", "timestamp": "", "data": {"message": "engine gone <b>away</b>"}})
        await ws.close()

    async def again(ws: WebSocket, _: int) -> None:
        await ws.send_json({"type": "error", "timestamp": "", "data": {"message": "engine gone <b>away</b>"}})
        for stamp, line in [(4, "c"), (5, "\x1b[31md\x1b[0m")]:
            await ws.send_json(runtime_log(stamp, line))
        await until_disconnect(ws)

    fake.container_plans[:] = [first, replay, again]
    start_runtime(page)
    page.wait_for_function("() => window.runtimeView.lines().length === 4")
    assert runtime_texts(page) == ["a", "b", "same", "same"]  # live, nothing is skipped
    page.evaluate("() => window.runtime.drop(100)")
    page.wait_for_function("() => window.runtimeView.lines().at(-1) === 'd'", timeout=10_000)
    assert runtime_texts(page) == [
        "a", "b", "same", "same", "same", "c", "container exited", "engine gone <b>away</b>", "d"
    ]
    assert fake.container_connections == [{"appId": "7", "tail": "200"}] * 3
    stats = page.evaluate("() => window.runtime.stats")
    assert stats["connects"] == 3 and stats["duplicates"] == 5, stats
    runtime = page.locator("[data-testid=runtime-log]")
    expect_marker = runtime.locator(".log-marker")
    assert expect_marker.all_inner_texts() == ["container exited", "engine gone <b>away</b>"]
    assert runtime.locator(".log-marker-error b").count() == 0
    assert runtime.locator(".ansi-fg-31").all_inner_texts() == ["d"]
    assert page.locator("[data-testid=runtime-log-connection]").inner_text() == "live"
    assert page.locator("[data-testid=log-download]").count() == 1  # the deployment view's; the runtime one has none

    # Suspended (no container): no reconnecting; resumed: the same stream goes on.
    page.evaluate("() => window.runtime.suspend()")
    assert page.locator("[data-testid=runtime-log-connection]").inner_text() == "no container yet"
    page.wait_for_timeout(300)
    assert len(fake.container_connections) == 3
    page.evaluate("() => window.runtime.resume()")
    page.wait_for_function("() => window.runtime.currentState === 'live'")
    assert len(fake.container_connections) == 4


def test_the_runtime_log_keeps_only_its_newest_lines(harness) -> None:
    page, fake = harness

    async def many(ws: WebSocket, _: int) -> None:
        for stamp in range(20):
            await ws.send_json(runtime_log(stamp, f"line {stamp}"))
        await until_disconnect(ws)

    fake.container_plans[:] = [many]
    start_runtime(page, max_lines=8)
    page.wait_for_function("() => window.runtimeView.count === 20")
    assert runtime_texts(page) == [f"line {i}" for i in range(12, 20)]
