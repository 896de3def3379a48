"""The chartcode Textual app: a thin shell that opens a coder's session on the coding screen."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from chartcode.coding import CodingSession
from chartcode.errors import UserError
from chartcode.store import Store
from chartcode.tui.screens.coding import CodingScreen


class ChartcodeApp(App):
    CSS_PATH = "chartcode.tcss"
    TITLE = "chartcode"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True, show=False)]

    def __init__(self, store: Store, coder: str, *, frozen_clock: bool = False, close_store: bool = True,
                 mode: str = "code", record_id: str | None = None):
        super().__init__()
        self.store = store
        self.mode = mode
        self.coder = coder
        self.record_id = record_id  # mode "rate": the unit-period ("UNIT @ PERIOD") being rated
        if mode == "reconcile":
            if store.require_coder(coder) == "coder":
                raise UserError(f"{coder!r} is a coder; reconciling is for a supervisor or lead")
            self.session = None
        else:
            self.session = CodingSession(store, coder)
        if mode == "rate":
            if store.codebook.scale is None:
                raise UserError(f"codebook {store.codebook.id} is not a rating scale (it has no 'scale' block)")
            if not record_id or not self.session.is_assigned(record_id):
                raise UserError(f"unit-period {record_id!r} is not assigned to {coder!r}")
        self.frozen_clock = frozen_clock
        self.close_store = close_store
        self.coding_screen: CodingScreen | None = None
        self.main_screen: Screen | None = None

    def on_mount(self) -> None:
        if self.mode == "reconcile":
            from chartcode.tui.screens.reconcile import ReconcileScreen

            self.main_screen = ReconcileScreen(self.store, self.coder, frozen_clock=self.frozen_clock)
        elif self.mode == "rate":
            from chartcode.tui.screens.rating import RatingScreen

            self.main_screen = RatingScreen(self.session, self.record_id, self.store.title,
                                            frozen_clock=self.frozen_clock)
        else:
            self.coding_screen = CodingScreen(self.session, self.store.title, frozen_clock=self.frozen_clock)
            self.main_screen = self.coding_screen
        self.push_screen(self.main_screen)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in getattr(screen, "KEYS", ()):
            if key.palette:
                action = key.action
                yield SystemCommand(key.description.split(" (")[0], f"{key.description} · key: {key.shown_key}",
                                    lambda a=action, s=screen: s.call_later(s.run_action, a))

    async def action_quit(self) -> None:
        if self.main_screen is not None:
            await self.main_screen.shutdown()
        self.exit()

    def on_unmount(self) -> None:
        if self.close_store:
            self.store.close()


def make_app(db: str | Path, coder: str, **kwargs) -> ChartcodeApp:
    """Open the audit and the coder's session; raises UserError before any screen is drawn."""
    store = Store.open(db)
    try:
        return ChartcodeApp(store, coder, **kwargs)
    except BaseException:
        store.close()
        raise
