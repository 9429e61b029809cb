"""The built site, opened in headless Chromium: every page renders, every image loads, every
internal link resolves; a screenshot of the home page is kept as ``build/site-screenshot.png``.

The site is served from ``127.0.0.1`` by a local HTTP server in a thread. Chromium is driven
through the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages on file descriptors
3 and 4; no extra package). It opens a small checker page (served next to the site, never written
into it) whose script loads every page of the site in turn in an iframe, waits for its images, and
returns the title, the first heading, the amount of text, each image with whether it decoded, each
link and each element id. The links are then checked here: a link to the site must reach a file
that the server serves, and a link with ``#fragment`` to a page must name an id of that page.

Skips only when no Chromium is installed (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "build" / "site-screenshot.png"
CHECKER = "/__site_check__.html"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
TIMEOUT_S = 120

CHECKER_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>site check</title></head>
<body>
<script>
const PAGES = %s;
function loaded(frame, url) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 20000);
    frame.onload = () => { clearTimeout(timer); resolve(true); };
    frame.src = url;
  });
}
function decoded(img) {
  if (img.complete) return Promise.resolve();
  return new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; setTimeout(resolve, 10000); });
}
async function check(url) {
  const frame = document.createElement("iframe");
  frame.style.width = "1280px";
  frame.style.height = "900px";
  document.body.appendChild(frame);
  const ok = await loaded(frame, url);
  const doc = frame.contentDocument;
  const images = [...doc.images];
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.all(images.map(decoded));
  const heading = doc.querySelector("article h1, h1");
  const result = {
    url, loaded: ok, title: doc.title,
    h1: heading ? heading.textContent.trim() : "",
    text: (doc.querySelector("article") || doc.body).innerText.trim().length,
    images: images.map((img) => ({src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0})),
    links: [...doc.querySelectorAll("a[href]")].map((a) => a.href),
    ids: [...doc.querySelectorAll("[id]")].map((e) => e.id),
  };
  frame.remove();
  return result;
}
async function runChecks() {
  const results = [];
  for (const url of PAGES) results.push(await check(url));
  return JSON.stringify(results);
}
</script></body></html>
"""


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class _Handler(SimpleHTTPRequestHandler):
    checker = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == CHECKER:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(self.checker)))
            self.end_headers()
            self.wfile.write(self.checker)
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(built_site: Path) -> Iterator[tuple[str, Path]]:
    handler = functools.partial(_Handler, directory=str(built_site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", built_site
    finally:
        httpd.shutdown()
        httpd.server_close()


class DevTools:
    """Chromium driven over ``--remote-debugging-pipe``: send a command, wait for its answer."""

    def __init__(self, browser: str, profile: Path) -> None:
        to_browser_r, self._write = os.pipe()
        self._read, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: the browser reads commands on fd 3, answers on fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer, self._next_id, self.session = b"", 0, None

    def call(self, method: str, timeout: float = TIMEOUT_S, **params: object) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._read], [], [], left)[0]:
                    raise TimeoutError(f"Chromium did not answer {method} within {timeout} s")
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium exited (code {self.process.poll()}) during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def open_page(self) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def goto(self, url: str) -> None:
        """Navigate and wait until the page and its images have loaded."""
        self.call("Page.navigate", url=url)
        self.evaluate("""new Promise((resolve) => {
            const done = () => Promise.all([...document.images].map((img) => img.complete ? null :
                new Promise((r) => { img.onload = r; img.onerror = r; }))).then(() => resolve(true));
            if (document.readyState === "complete" && location.href !== "about:blank") done();
            else window.addEventListener("load", done);
        })""")

    def evaluate(self, expression: str, timeout: float = TIMEOUT_S) -> object:
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (TimeoutError, RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


@pytest.fixture(scope="module")
def devtools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    browser = find_browser()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    tools = DevTools(browser, tmp_path_factory.mktemp("chromium"))
    try:
        tools.open_page()
        yield tools
    finally:
        tools.close()


def site_pages(site: Path) -> list[str]:
    """URL paths of every HTML page of the built site, except mkdocs' 404 page."""
    pages = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if rel != "404.html":
            pages.append("/" + rel.removesuffix("index.html"))
    return pages


def served_file(site: Path, path: str) -> Path | None:
    target = site / unquote(path).lstrip("/")
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


@pytest.fixture(scope="module")
def report(server: tuple[str, Path], devtools: DevTools) -> list[dict]:
    base, site = server
    _Handler.checker = (CHECKER_HTML % json.dumps([base + p for p in site_pages(site)])).encode()
    devtools.goto(base + CHECKER)
    return json.loads(devtools.evaluate("runChecks()"))


def test_every_page_renders(report: list[dict]) -> None:
    assert len(report) >= 8, [r["url"] for r in report]
    for page in report:
        assert page["loaded"], f"{page['url']} did not load"
        assert page["title"] and page["h1"], f"{page['url']} has no title or heading"
        assert page["text"] > 200, f"{page['url']} shows almost no text"


def test_every_image_loads(report: list[dict]) -> None:
    images = [(page["url"], img["src"]) for page in report for img in page["images"]]
    assert len(images) >= 5, "the site should show its figures"
    broken = [(url, img["src"]) for page in report for img in page["images"] if not img["ok"] for url in [page["url"]]]
    assert not broken, broken


def test_every_internal_link_resolves(report: list[dict], server: tuple[str, Path]) -> None:
    base, site = server
    ids = {urlsplit(page["url"]).path: set(page["ids"]) for page in report}
    broken = []
    for page in report:
        for link in page["links"]:
            parts = urlsplit(link)
            if f"{parts.scheme}://{parts.netloc}" != base:
                continue
            if served_file(site, parts.path) is None:
                broken.append((page["url"], link, "no such file"))
            elif parts.fragment and parts.path in ids and unquote(parts.fragment) not in ids[parts.path]:
                broken.append((page["url"], link, "no such anchor"))
    assert not broken, broken


def test_home_page_screenshot(server: tuple[str, Path], report: list[dict], devtools: DevTools) -> None:
    from PIL import Image, ImageStat

    base, _ = server
    devtools.call("Emulation.setDeviceMetricsOverride", width=1280, height=1600, deviceScaleFactor=1, mobile=False)
    devtools.goto(base + "/")
    data = devtools.call("Page.captureScreenshot", format="png")["data"]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(base64.b64decode(data))
    with Image.open(SCREENSHOT) as shot:
        assert shot.size == (1280, 1600)
        assert max(ImageStat.Stat(shot.convert("L")).stddev) > 10, "the screenshot is blank"
