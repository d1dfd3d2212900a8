"""The evaluation chart in the docs UI: headless Chromium opens /docs, authorizes with a viewer key,
executes ``GET /api/v1/reports/evaluation.png`` and Swagger UI shows the picture. The screenshot
is kept as ``test-artifacts/loop/docs-report-chart.png``."""

from __future__ import annotations

from gridsight.paths import REPO_ROOT
from tests.ui.chromium import Chromium
from tests.ui.test_docs_ui import (  # noqa: F401
    authorize_with_key, click, opblock, pytestmark, served_api, try_out_and_execute)

ARTIFACTS = REPO_ROOT / "test-artifacts" / "loop"


def test_docs_ui_shows_the_evaluation_chart(served_api):  # noqa: F811
    base, key, _ = served_api
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Chromium(window=(1280, 1400)) as browser:
        page = browser.new_page()
        try:
            page.navigate(f"{base}/docs")
            page.wait_for("document.querySelector('.swagger-ui .info .title')", 60, "Swagger UI to render")
            authorize_with_key(page, key)

            chart = opblock("/api/v1/reports/evaluation.png")
            try_out_and_execute(page, chart)
            click(page, f"{chart}.querySelector('.execute')", "Execute (chart)")
            size = page.wait_for(f"(function(){{ const i = {chart}.querySelector('.live-responses-table img'); "
                                 "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight] : null; "
                                 "})()", 60, "the chart to show")
            assert size == [1600, 800]
            page.evaluate(f"{chart}.querySelector('.live-responses-table img').scrollIntoView({{block: 'center'}})")
            assert page.screenshot(ARTIFACTS / "docs-report-chart.png", full_page=False).stat().st_size > 10_000
        except Exception:
            page.screenshot(ARTIFACTS / "report-failure.png", full_page=False)
            raise
        finally:
            page.close()
