"""The report's templates: one hand-built section model rendered to HTML and to Markdown, escaped in each;
and the report package's modules import each other without cycles."""

from __future__ import annotations

from chartcode.report.model import ActionItem, ActionList, Code, Heading, Light, LightTable, Paragraph, Section, Table
from chartcode.report.render import md_cell, render_section

EVIL = "<script>alert(1)</script> a|b"


def section() -> Section:
    return Section("Checks & <balances>").add(
        Paragraph(["Run ", Code("chartcode reconcile"), " first."]),
        Table(["label", "n"], [[EVIL, 3], ["line one\nline two", None]], {1}, caption=Paragraph("Caption")),
        Heading("Actions"),
        ActionList([ActionItem("Item 1: rated 2", "anchor", [f"a: {EVIL}"])]),
        LightTable("Ward 1", Table(["standard", "final"], [[EVIL, Light("Red", "red")]])),
    )


def test_html_escapes_every_cell_and_keeps_markup_for_the_model_only():
    html = render_section(section(), "html")
    assert "<script" not in html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt; a|b</td>" in html
    assert "<td class='num'>3</td>" in html and "<td class='num'></td>" in html  # None: an empty cell
    assert "<h2>Checks &amp; &lt;balances&gt;</h2>" in html
    assert "<p>Run <code>chartcode reconcile</code> first.</p>" in html
    assert "<p>Caption</p>" in html and "<h3>Actions</h3>" in html
    assert "<div class='evidence'>a: &lt;script&gt;" in html
    assert "<span class='light red' style='background:#d64541'>Red</span>" in html


def test_markdown_escapes_table_cells_pipes_newlines_and_tags():
    md = render_section(section(), "md")
    assert md.startswith("## Checks & <balances>\n\nRun `chartcode reconcile` first.\n")
    assert "Caption\n\n| label | n |\n|---|---|\n" in md
    assert "| \\<script>alert(1)\\</script> a/b | 3 |" in md  # the pipe cannot split the row, the tag is text
    assert "| line one line two |  |" in md
    # only table cells are escaped in Markdown (as before); prose and evidence are written as typed
    assert "### Actions\n\n1. **Item 1: rated 2** — anchor\n   - a: " in md
    assert "### Ward 1\n\n| standard | final |\n|---|---|\n| \\<script>alert(1)\\</script> a/b | Red |" in md


def test_md_cell_leaves_comparisons_alone():
    assert md_cell("All gaps <= 6 months") == "All gaps <= 6 months"
    assert md_cell("p < .001") == "p < .001"
    assert md_cell("<b>x</b> | y") == "\\<b>x\\</b> / y"


def test_the_report_package_has_no_import_cycles():
    import grimp

    graph = grimp.build_graph("chartcode", cache_dir=None)
    modules = sorted(m for m in graph.modules if m.startswith("chartcode.report."))
    assert "chartcode.report.model" in modules
    for m in modules:
        for other in modules:
            if m != other and graph.direct_import_exists(importer=m, imported=other):
                assert not graph.chain_exists(importer=other, imported=m), f"cycle: {m} <-> {other}"
    # the model is the bottom: it imports no other report module
    assert not [m for m in modules if graph.direct_import_exists(importer="chartcode.report.model", imported=m)]
