"""The HTML report at desktop (1280 px) and phone (390 px) width in headless Chromium.

Measured in the page itself: a script added to a copy of the report writes, after layout, the
document's scrollWidth, every chart's and table box's edges, and the rendered size of every SVG
text (its font size times the scale the page draws the SVG at); --dump-dom returns it. Headless
Chromium will not make a window narrower than 500 px, so the phone width is an iframe of 390 px
(media queries apply to the iframe's width). Screenshots are kept in the test's folder.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import require_tool
from tests.e2e.test_report_browser import FLAGS

pytestmark = pytest.mark.e2e

MIN_TEXT_PX = 9.0  # smallest chart text we call readable, in CSS pixels

PROBE = """<script>
window.addEventListener('load', function () {
  var fonts = [];
  document.querySelectorAll('svg text').forEach(function (t) {
    var m = t.getScreenCTM();
    if (m && t.textContent.trim()) fonts.push(parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b));
  });
  function edges(sel) {
    return Array.prototype.map.call(document.querySelectorAll(sel), function (e) {
      var r = e.getBoundingClientRect(); return [r.left, r.right];
    });
  }
  var out = {viewport: document.documentElement.clientWidth, scrollWidth: document.documentElement.scrollWidth,
             minFont: Math.min.apply(null, fonts), texts: fonts.length,
             charts: edges('.chart'), tables: edges('.table-wrap')};
  var pre = document.createElement('pre'); pre.id = 'metrics'; pre.hidden = true; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

FRAME = """<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{{margin:0}}iframe{{border:0;display:block}}
</style></head><body><iframe id='f' style='width:{width}px;height:{height}px' srcdoc="{doc}"></iframe>
<script>window.addEventListener('load', function () {{
  var m = document.getElementById('f').contentDocument.getElementById('metrics');
  var pre = document.createElement('pre'); pre.id = 'metrics'; pre.hidden = true;
  pre.textContent = m ? m.textContent : '{{}}';
  document.body.appendChild(pre);
}});</script></body></html>"""


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    chartcode_exe = str(Path(sys.executable).parent / "chartcode")
    d = tmp_path_factory.mktemp("widths")
    subprocess.run([chartcode_exe, "demo", "--dir", str(d), "--no-tui"], check=True, capture_output=True)
    page = d / "report.html"
    subprocess.run(
        [chartcode_exe, "report", str(d / "demo.db"), "--out", str(page), "--bootstrap", "50"],
        check=True,
        capture_output=True,
    )
    return page


def _chromium(chromium: str, profile, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180
    )


def _measure(chromium: str, report_page, width: int) -> tuple[dict, object]:
    d = report_page.parent
    probed = report_page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    if width >= 500:
        page = d / f"probe-{width}.html"
        page.write_text(probed, encoding="utf-8")
        window = f"{width},2400"
    else:
        page = d / f"frame-{width}.html"
        page.write_text(FRAME.format(width=width, height=6000, doc=html.escape(probed, quote=True)), encoding="utf-8")
        window = "500,6000"
    dom = _chromium(chromium, d / f"p-{width}", f"--window-size={window}", "--dump-dom", page.as_uri()).stdout
    m = re.search(r'<pre id="metrics"[^>]*>([^<]*)</pre>', dom)
    assert m, dom[-2000:]
    shot = d / f"report-{width}.png"
    r = _chromium(chromium, d / f"s-{width}", f"--window-size={window}", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), r.stderr[-2000:]
    return json.loads(html.unescape(m.group(1))), shot


@pytest.mark.parametrize("width", [1280, 390])
def test_report_fits_the_screen_and_chart_text_stays_readable(report_page, width):
    chromium = require_tool("chromium")
    metrics, shot = _measure(chromium, report_page, width)
    assert metrics["viewport"] <= width
    # nothing makes the page scroll sideways: wide tables and charts scroll inside their own box
    assert metrics["scrollWidth"] <= metrics["viewport"], metrics
    for left, right in metrics["charts"] + metrics["tables"]:
        assert left >= 0 and right <= metrics["viewport"] + 0.5, (left, right, metrics["viewport"])
    assert len(metrics["charts"]) >= 10 and len(metrics["tables"]) >= 3
    assert metrics["texts"] > 100
    assert metrics["minFont"] >= MIN_TEXT_PX, metrics["minFont"]

    from PIL import Image

    with Image.open(shot) as im:
        assert im.width == (width if width >= 500 else 500)
        # the phone frame is 390 px wide: right of it the screenshot is the empty page
        if width < 500:
            strip = im.crop((width + 5, 0, im.width - 20, 2000)).convert("L")  # less the page's scroll bar
            assert strip.getextrema()[0] >= 250  # nothing drawn outside the phone's width
