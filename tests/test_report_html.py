"""report.html renders offline in a real headless Chromium with its plots (screenshot saved)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eval_fakes import FIXTURE, FakeClock, fake_pipeline, load_articles
from evals import runner
from evals.questions import load_questions
from evals.report import write_reports

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.slow
def test_report_html_renders_plots_offline(tmp_path, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `make browser` (scripts/install-browser.sh)")
    from playwright.sync_api import sync_playwright

    clock = FakeClock()
    monkeypatch.setattr(runner.time, "perf_counter", clock)
    out = tmp_path / "run"
    rows, metrics = runner.run_eval(
        load_questions(FIXTURE / "questions.jsonl"), fake_pipeline(clock), out, k=2,
        get_article=load_articles().get, config={"preset": "fake"}, progress=False,
    )
    write_reports(out, rows, metrics)
    report = out / "report.html"
    # open it from a folder of its own: nothing beside it to load
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(report, alone / "report.html")
    url = (alone / "report.html").as_uri()

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report_html.png"), full_page=True)
            sizes = {}
            for plot in ("metric-bars", "latency-hist", "outcome-grid"):
                box = page.locator(f"svg#{plot}").bounding_box()
                sizes[plot] = box
            bars = page.locator("svg#metric-bars rect.bar").count()
            hist_bars = page.locator("svg#latency-hist rect.bar").count()
            cells = page.locator("svg#outcome-grid rect.cell").count()
            wrong = page.locator('svg#outcome-grid rect[data-outcome="wrong"]').count()
            heading = page.locator("h1").inner_text()
        finally:
            browser.close()

    for plot, box in sizes.items():
        assert box is not None and box["width"] > 50 and box["height"] > 20, (plot, box)
    assert bars == 8  # every rate metric of the fixture has a value
    assert hist_bars == 12
    assert cells == 6 and wrong == 1  # q2 is the one wrong answer
    assert heading == "Evaluation: run"
    assert requests == [url], f"requests other than the report itself: {requests}"
    assert (ARTIFACTS / "report_html.png").stat().st_size > 10_000
