"""The timeline page of one world (``sim.reports.timeline``): rendered by real headless Chromium from
``python -m sim run --html``, written by ``sim replay --html`` and the plugin's ``--durable-html``, and
the renderer itself (lanes, bars, escaping) without a browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import attrs
import pytest

from pytest_durable import Context, function
from sim import Scenario, exactly_once, ledger
from sim.faults import FaultConfig
from sim.reports import timeline
from sim.runner import run_world
from sim.scenario import load_scenario
from sim.world import RunResult

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
BUGGY = "examples/side_effect_bug.py:buggy"
#: A seed whose world double-charges under --faults crash (found with --seeds 300 --faults crash).
FAILING_SEED = "14"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}


@attrs.frozen
class Node:
    """One element of a page: its tag, attributes, classes, the lane it sits in and its text."""

    tag: str
    attrs: dict[str, str]
    lane: str | None
    text: str

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Page(HTMLParser):
    """A page parsed into a flat list of elements, each knowing its enclosing lane."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.nodes: list[Node] = []
        self._stack: list[tuple[str, dict[str, str], str | None, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        lane = self._stack[-1][2] if self._stack else None
        if "lane" in values.get("class", "").split():
            lane = values.get("data-lane")
        if tag in VOID:
            self.nodes.append(Node(tag, values, lane, ""))
        else:
            self._stack.append((tag, values, lane, []))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            name, values, lane, text = self._stack.pop()
            self.nodes.append(Node(name, values, lane, "".join(text)))
            if self._stack:
                self._stack[-1][3].extend(text)
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._stack[-1][3].append(data)

    def having(self, *classes: str) -> list[Node]:
        return [n for n in self.nodes if set(classes) <= n.classes]

    def lanes(self) -> list[str]:
        return [n.attrs["data-lane"] for n in sorted(self.having("lane"), key=lambda n: self.nodes.index(n))]


def sim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def chromium_dom(page: Path) -> str:
    """The DOM of ``page`` after Chromium loaded it and ran its script (``--dump-dom``)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"headless Chromium is missing ({CHROMIUM}): install Debian's package 'chromium' "
                    "(apt-get install chromium), as .ci/run does", pytrace=False)
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    assert out.returncode == 0 and "<html" in out.stdout, out.stderr[-2000:]
    return out.stdout


def test_the_side_effect_bug_seen_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "w.html"
    out = sim("run", BUGGY, "--seed", FAILING_SEED, "--faults", "crash", "--html", str(page),
              "--out", str(tmp_path / "w.json"))
    assert out.returncode == 1, out.stdout + out.stderr  # the world fails: the card is charged twice
    assert f"timeline: {page}" in out.stdout.splitlines()
    # who charged, and which incarnations ran, from the text report and the saved trace
    chargers = re.findall(r"by checkout on (w\d+#\d+)", out.stdout)
    assert len(chargers) == 2 and chargers[0] != chargers[1], out.stdout
    import json

    events = json.loads((tmp_path / "w.json").read_text())["events"]
    incarnations = {f"{p}#{i}" for _, _, p, i, *_ in events if i}
    crashed = {f"{p}#{i}" for _, _, p, i, kind, *_ in events if kind == "crash"}
    assert len(incarnations) >= 3 and crashed

    dom = Page(chromium_dom(page))
    assert dom.having("tip") or any(n.attrs.get("id") == "tip" for n in dom.nodes), "the page's script did not run"
    lanes = dom.lanes()
    assert lanes[0] == "server"
    assert sorted(lane for lane in lanes if "#" in lane) == sorted(incarnations)  # one lane per incarnation
    for lane in crashed:
        assert any(n.lane == lane for n in dom.having("mark", "crash")), f"no crash mark on lane {lane}"
    effects = dom.having("mark", "effect")
    assert sorted(n.lane for n in effects if n.attrs.get("data-key") == "charge:order-42") == sorted(chargers)
    assert all("culprit" in n.classes for n in effects)  # both charges are the violation's
    violations = [n for n in dom.having("violation") if n.tag == "li"]
    assert len(violations) == 1 and "'charge:order-42' was recorded 2 times" in violations[0].text
    assert dom.having("mark", "violation")
    assert [n.attrs["data-promise"] for n in dom.having("promise", "culprit")] == ["checkout"]
    bars = {(n.lane, n.attrs["data-attempt"]) for n in dom.having("bar", "workflow")}
    assert bars == {(chargers[0], "1"), (chargers[1], "2")}  # the workflow ran twice, once on each charger


def test_html_without_seed_is_a_usage_error(tmp_path: Path) -> None:
    out = sim("run", BUGGY, "--faults", "crash", "--html", str(tmp_path / "w.html"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "python -m sim run: --html draws one world: add --seed N or --aim POINT (a sweep prints each failing world's)"]
    assert not (tmp_path / "w.html").exists()


def test_html_in_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = sim("run", BUGGY, "--seed", FAILING_SEED, "--faults", "crash", "--html", str(tmp_path / "file" / "w.html"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "--html" in out.stderr and "Traceback" not in out.stderr


def test_replay_writes_the_page_of_the_rerun_world(tmp_path: Path) -> None:
    saved = tmp_path / "w.json"
    assert sim("run", BUGGY, "--seed", FAILING_SEED, "--faults", "crash", "--out", str(saved)).returncode == 1
    page = tmp_path / "r.html"
    out = sim("replay", str(saved), "--html", str(page))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"timeline: {page}" in out.stdout
    dom = Page(page.read_text())
    assert {"server", "w1#1", "w1#2"} <= set(dom.lanes())
    assert [n for n in dom.having("violation") if n.tag == "li"]


def _world(seed: int = int(FAILING_SEED)) -> RunResult:
    return run_world(load_scenario(BUGGY), seed=seed, faults=FaultConfig.parse("crash"), target=BUGGY)


def test_bars_carry_attempts_and_end_where_the_body_did() -> None:
    result = _world()
    bars = timeline.bars(result)
    workflow = [b for b in bars if b.id == "checkout"]
    assert [b.attempt for b in workflow] == [1, 2]
    assert workflow[0].ended == "crashed" and workflow[1].ended == "settled"
    assert workflow[0].lane != workflow[1].lane
    assert all(b.start <= b.end for b in bars)
    assert timeline.culprits(result) == {"checkout"}


def test_a_passing_world_says_so_and_has_no_culprit() -> None:
    result = run_world(load_scenario("examples/side_effect_bug.py:fixed"), seed=int(FAILING_SEED),
                       faults=FaultConfig.parse("crash"))
    dom = Page(timeline.page(result))
    assert not dom.having("violation") and dom.having("ok")
    assert not dom.having("culprit")


def test_the_axis_keeps_order_and_squeezes_quiet_stretches() -> None:
    axis = timeline.Axis([0.001, 0.002, 0.5, 100.0], 100.0)
    xs = [axis.x(t) for t in (0.0, 0.001, 0.0015, 0.002, 0.5, 50.0, 100.0)]
    assert xs == sorted(xs) and xs[-1] == axis.width
    assert axis.breaks == [(0.5, 100.0)]
    assert axis.x(100.0) - axis.x(0.5) < axis.width / 2  # 99.5 quiet seconds do not take the page


EVIL = '<script>alert("x")</script>&'


@function
async def evil_leaf(n: int) -> int:
    return n


@function
async def evil_workflow(ctx: Context, n: int) -> int:
    ledger().record(EVIL)
    ledger().record(EVIL)
    return await ctx.run(evil_leaf, n)


def test_user_text_is_escaped() -> None:
    scenario = Scenario(evil_workflow, (1,), functions=(evil_leaf,), root_id="evil",
                        invariants=(exactly_once("<"),))
    result = run_world(scenario, seed=0, faults=FaultConfig.parse("none"))
    assert not result.ok
    html = timeline.page(result)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html
    dom = Page(html)
    assert [n.attrs["data-key"] for n in dom.having("mark", "effect")] == [EVIL, EVIL]
    assert len([n for n in dom.nodes if n.tag == "script"]) == 1  # the page's own tooltip script, no other


PLUGIN_TEST = '''
import pytest

from examples.side_effect_bug import ORDER, checkout_buggy, reserve, ship


@pytest.mark.durable(seeds=200, faults="crash")
def test_checkout_charges_once(durable_sim, ledger):
    durable_sim.run(checkout_buggy, ORDER, id="checkout")
    ledger.assert_exactly_once("charge:")
'''


@pytest.mark.parametrize("source", ["cli", "env", "ini"])
def test_the_plugin_writes_a_page_for_the_failing_world(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                       source: str) -> None:
    pytester.makepyfile(test_bug=PLUGIN_TEST, test_plain="def test_ok(): pass")
    pytester.syspathinsert(ROOT)
    args = ["--durable-seed=3", "-p", "no:cacheprovider"]
    if source == "cli":
        args.append("--durable-html=pages")
    elif source == "env":
        monkeypatch.setenv("PYTEST_DURABLE_HTML", "pages")
    else:
        pytester.makeini("[pytest]\ndurable_html = pages\n")
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=1, passed=1)
    written = sorted((pytester.path / "pages").iterdir())
    # the failing world is an aimed one: it has no seed, so its page is named by its number in the test
    assert len(written) == 1
    assert re.fullmatch(r"test_bug\.py_test_checkout_charges_once-world\d+\.html", written[0].name)
    result.stdout.fnmatch_lines([f"timeline written to pages/{written[0].name}"])
    result.stdout.fnmatch_lines(["durable: * ran (seed=3)*; timelines of failing worlds drawn in pages"])
    dom = Page(written[0].read_text())
    assert "server" in dom.lanes() and any("#" in lane for lane in dom.lanes())
    effects = dom.having("mark", "effect")
    assert len(effects) >= 2 and all("culprit" in n.classes for n in effects)
    failed = [n.text for n in dom.having("violation") if n.tag == "li"]
    assert len(failed) == 1 and failed[0].startswith("the test failed: AssertionError: ledger: effects 'charge:'*")
    assert [n.attrs["data-promise"] for n in dom.having("promise", "culprit")] == ["checkout"]
