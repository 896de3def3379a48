"""The coding and rating screens at the sizes clinical workstations open (80x24 first): what a
coder needs is on screen, measured on the widgets' regions, not only in a snapshot."""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from chartcode.tui.widgets.coding_form import CodingForm, field_panel
from chartcode.tui.widgets.rating_items import ItemDetail
from tests.tui.conftest import make_app, run


def _footer_keys_on_screen(screen) -> dict[str, bool]:
    footer = screen.query_one(Footer)
    right = footer.region.right
    for child in footer.children:  # the command palette key docked at the right covers the keys under it
        if not isinstance(child, FooterKey):
            right = min(right, child.region.x)
    shown = {}
    for fk in footer.query(FooterKey):
        shown[fk.description] = fk.region.width > 0 and fk.region.right <= right
    return shown


def _lines_needed(app, text, upto: str, width: int) -> int:
    """Lines the panel text takes, up to and including ``upto``, wrapped at ``width``."""
    end = text.plain.index(upto) + len(upto)
    return len(text[:end].wrap(app.console, width))


def test_at_80x24_the_note_the_choices_the_rules_and_help_and_quit_are_on_screen(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = pilot.app.coding_screen
            assert screen.query_one("#note-body").content_region.width >= 40
            keys = _footer_keys_on_screen(screen)
            assert keys.get("Help") and keys.get("Quit"), keys
            slot = screen.current_slot
            assert slot.field.name == "session_content"
            rules = screen.query_one("#rules")
            panel = field_panel(slot.field, None, None)
            last_choice = slot.field.choices[-1].label
            first_rule = slot.field.rules.splitlines()[0]
            needed = _lines_needed(pilot.app, panel, first_rule, rules.content_region.width)
            assert needed <= rules.content_region.height, (needed, rules.content_region)
            assert last_choice in panel.plain

    run(go())


def test_at_80x24_the_record_list_takes_the_forms_place_and_the_note_keeps_40_columns(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(80, 24)) as pilot:
            await pilot.press("l")
            await pilot.pause()
            screen = pilot.app.coding_screen
            assert screen.query_one("#queue-pane").region.width > 0
            assert screen.query_one("#note-body").content_region.width >= 40
            await pilot.press("escape")
            await pilot.pause()
            assert screen.query_one(CodingForm).region.width > 0

    run(go())


def test_at_80x24_the_rating_screen_shows_every_anchor_of_the_focused_item(tmp_path, cli):
    db = tmp_path / "team.db"
    assert cli("init", db, "--audit", "ips-fidelity").code == 0
    with Store.open(db) as store:
        record = store.add_unit_period("Team A", "2026-H1")
        rater = store.coders()[0]["name"]
        store.assign(rater, [record])

    async def go():
        app = ChartcodeApp(Store.open(db), rater, frozen_clock=True, mode="rate", record_id=record)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = pilot.app.main_screen
            keys = _footer_keys_on_screen(screen)
            assert keys.get("Help") and keys.get("Quit"), keys
            detail = screen.query_one(ItemDetail)
            pane = screen.query_one("#detail")
            item = screen.items[0]
            last_anchor = [c for c in item.choices if c.code not in item.missing_codes][-1].description
            drawn = [strip.text for strip in detail.render_lines(detail.region.reset_offset)]
            tail = last_anchor.split()[-1]
            line = max(y for y, text in enumerate(drawn) if tail in text)
            assert line < pane.content_region.height, (line, pane.content_region)

    run(go())
