"""The chartcode Textual app: a thin shell that opens a coder's session on the coding screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from chartcode.coding import CodingSession
from chartcode.errors import UserError
from chartcode.store import ConnectionLost, Store, open_store
from chartcode.tui import keytrace
from chartcode.tui.key_order import KeyRouter
from chartcode.tui.runtime import TICK_S, Housekeeping
from chartcode.tui.screens.coding import BREAKPOINTS_UNCHANGED_KEEP_STYLES, CodingScreen
from chartcode.tui.writer import Waiting, server_away

if TYPE_CHECKING:  # imported when their mode starts
    from chartcode.tui.screens.rating import RatingScreen
    from chartcode.tui.screens.reconcile import ReconcileScreen

    # The screens the app opens on; each has the async shutdown() that action_quit awaits.
    MainScreen: TypeAlias = CodingScreen | RatingScreen | ReconcileScreen

ScreenFactory = Callable[[], "MainScreen"]

# The main screen is Textual's first screen (get_default_screen) with the Textual releases that set
# breakpoint classes in one batch (tui/screens/coding.py); on older ones (3.4, our floor) a screen
# opened that way at 80x24 left its focused row out of view, as a screen with its breakpoint
# classes set early did (tests/tui/test_focus_where_the_work_is.py): there it is pushed on mount.
# The coding screen only: the reconcile screen opened that way failed in a terminal ("No screens
# on stack" as it ended, tests/cli/test_readme_walkthrough.py; not traced further), so reconcile
# and rate are pushed on mount as before.
MAIN_SCREEN_FIRST = BREAKPOINTS_UNCHANGED_KEEP_STYLES


def _coding(app: ChartcodeApp) -> ScreenFactory:
    app.session = session = CodingSession(app.store, app.coder)

    def build() -> MainScreen:
        app.coding_screen = CodingScreen(session, app.store.title, frozen_clock=app.frozen_clock)
        return app.coding_screen

    return build


def _reconcile(app: ChartcodeApp) -> ScreenFactory:
    if app.store.require_coder(app.coder) == "coder":
        raise UserError(f"{app.coder!r} is a coder; reconciling is for a supervisor or lead")

    def build() -> MainScreen:
        from chartcode.tui.screens.reconcile import ReconcileScreen

        return ReconcileScreen(app.store, app.coder, frozen_clock=app.frozen_clock)

    return build


def _rating(app: ChartcodeApp) -> ScreenFactory:
    app.session = session = CodingSession(app.store, app.coder)
    if app.store.codebook.scale is None:
        raise UserError(f"codebook {app.store.codebook.id} is not a rating scale (it has no 'scale' block)")
    record_id = app.record_id
    if not record_id or not session.is_assigned(record_id):
        raise UserError(f"unit-period {record_id!r} is not assigned to {app.coder!r}")

    def build() -> MainScreen:
        from chartcode.tui.screens.rating import RatingScreen

        return RatingScreen(session, record_id, app.store.title, frozen_clock=app.frozen_clock)

    return build


# The screens the app opens on, by mode: each checks what it needs (raising UserError before
# anything is drawn) and returns how to build its screen. A new main screen is one entry here.
MODES: dict[str, Callable[[ChartcodeApp], ScreenFactory]] = {
    "code": _coding,
    "reconcile": _reconcile,
    "rate": _rating,
}


class ChartcodeApp(App):
    CSS_PATH = "chartcode.tcss"
    TITLE = "chartcode"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True, show=False)]

    def __init__(
        self,
        store: Store,
        coder: str,
        *,
        frozen_clock: bool = False,
        close_store: bool = True,
        mode: str = "code",
        record_id: str | None = None,
        tune_runtime: bool = False,
    ):
        super().__init__()
        self.store = store
        self.mode = mode
        self.coder = coder
        self.record_id = record_id  # mode "rate": the unit-period ("UNIT @ PERIOD") being rated
        self.frozen_clock = frozen_clock
        self.close_store = close_store
        self.session: CodingSession | None = None
        self.coding_screen: CodingScreen | None = None
        self.main_screen: MainScreen | None = None
        self._build_screen = MODES[mode](self)
        self.key_trace = keytrace.from_env()  # CHARTCODE_KEY_TRACE=FILE: per-key timestamps
        self.keys = KeyRouter(self, super().on_event, self.key_trace)
        # The interpreter-wide settings (tui/runtime.py) are for the process that runs the app in
        # a terminal (`chartcode code`); a test process running many apps keeps its own.
        self.housekeeping = Housekeeping() if tune_runtime else None

    def get_default_screen(self) -> Screen:
        """The main screen is the first on the stack: Textual builds no blank default screen to
        style, mount and draw before covering it with this one (~0.02 s of the start-up)."""
        if not MAIN_SCREEN_FIRST or self.mode != "code":  # reconcile and rate: pushed on mount, as before
            return super().get_default_screen()
        return self._open_main_screen()

    def _open_main_screen(self) -> MainScreen:
        if isinstance(self.store, Store):  # the SQLite file (a team server queues writers itself)
            # Writes wait as long as another program holds the write lock; the screen says so and
            # keeps every change queued, in order, until it is saved.
            self.store.wait_for_locks(None, self._lock_wait)
            # A keystroke's commit never runs the WAL checkpoint: the writer checkpoints in pauses.
            self.store.checkpoints_off_the_commit_path()
        self.main_screen = self._build_screen()
        return self.main_screen

    def on_mount(self) -> None:
        self.keys.start()
        if self.main_screen is None:  # Textual 3.x (MAIN_SCREEN_FIRST), reconcile, rate: over the default screen
            self.push_screen(self._open_main_screen())
        if self.housekeeping is not None:
            self.call_after_refresh(self._after_startup)

    def _after_startup(self) -> None:
        """Once the first screen is drawn: tune the interpreter, then collect in the pauses. The timer
        starts only now: before, gc is off (runtime.start_without_collections) and a young collection
        from the timer would run inside the start-up on a busy machine (2-8 ms of CPU each)."""
        assert self.housekeeping is not None
        self.housekeeping.after_startup()
        self.set_interval(TICK_S, self.housekeeping.collect_when_idle)

    def _lock_wait(self, seconds: float, waiting: bool) -> None:  # on the writer thread
        screen = self.main_screen
        if screen is not None:
            screen.post_message(Waiting(seconds, waiting))

    async def on_event(self, event: events.Event) -> None:
        # Typed keys go through the router, in order, each after the previous one has settled
        # (see tui/key_order.py); everything else, and keys Textual forwards back up, as usual.
        if isinstance(event, events.Key) and not event.is_forwarded and self.keys.running:
            if self.housekeeping is not None:
                self.housekeeping.key()
            self.keys.put(event)
            return
        try:
            await super().on_event(event)
        except ConnectionLost as error:  # a key's action could not read from the team server
            server_away(self, error)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in getattr(screen, "KEYS", ()):
            if key.palette:
                action = key.action
                yield SystemCommand(
                    key.description.split(" (")[0],
                    f"{key.description} · key: {key.shown_key}",
                    lambda a=action, s=screen: s.call_later(s.run_action, a),
                )

    async def action_quit(self) -> None:
        if self.main_screen is not None:
            await self.main_screen.shutdown()
        self.exit()

    async def on_unmount(self) -> None:
        await self.keys.stop()
        if self.key_trace is not None:
            self.key_trace.close()
        if self.close_store:
            self.store.close()


def make_app(db: str | Path, coder: str | None, **kwargs) -> ChartcodeApp:
    """Open the audit and the coder's session; raises UserError before any screen is drawn."""
    store = open_store(db)
    try:
        if coder is None:  # on a team server the coder is the login
            coder = store.actor
        return ChartcodeApp(store, coder, **kwargs)
    except BaseException:
        store.close()
        raise
