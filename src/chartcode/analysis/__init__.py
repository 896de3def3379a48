"""Statistics on the final values: derived variables and the audit's declared analyses.

    plan = load_plan(store)                      # derived + analyses from the stored audit YAML
    frame, known = analysis_frame(store, plan)   # records frame + derived columns; name -> Variable
    report = run_stats(store, specs=None, where=(), ci=0.95)   # {"analyses": [...]} (--json shape)

The audit file's ``analyses:`` section is a list of one-kind items::

    analyses:
      - describe: [age, sex, mh_diagnosis]     # categorical: n (%) per choice; numeric: mean (SD), range
        by: accepted_followup                  # optional: a column per group, after All
        title: Patient characteristics         # optional, any item
      - linear: last_note_outcome ~ n_conjoint_sessions
      - logistic: accepted_followup ~ mh_diagnosis
      - welch: sud_diagnosis by accepted_followup
      - crosstab: mh_diagnosis by accepted_followup
        where: "followup_evident == 1"         # optional: string or list, == / != only

See chartcode.analysis.derived for the ``derived:`` vocabulary and chartcode.analysis.models
for the result shape. Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from chartcode.analysis.derived import Derived, add_derived, parse_derived
from chartcode.analysis.models import (
    KINDS,
    Spec,
    Variable,
    parse_by,
    parse_describe,
    parse_formula,
    parse_where,
    run_spec,
)
from chartcode.errors import UserError
from chartcode.yamlsrc import LList, LMap, load_located

__all__ = [
    "Plan",
    "Prepared",
    "Spec",
    "Variable",
    "analysis_frame",
    "cli_specs",
    "load_plan",
    "parse_analyses",
    "prepare_stats",
    "run_stats",
]


@dataclass
class Plan:
    shown: str
    derived: list[Derived] = field(default_factory=list)
    analyses: Any = None  # the located ``analyses`` section, parsed once the frame's names are known


def load_plan(store) -> Plan:
    """The derived variables (validated) and raw analyses section of the audit stored in ``store``,
    parsed once per state of the database (the audit YAML is parsed with every line located, about
    a quarter of a second: the streamed export asks once per span of records and per table)."""
    plan: Plan = store.cached("analysis_plan", lambda: _load_plan(store))
    return plan


def _load_plan(store) -> Plan:
    shown = f"audits/{store.meta('audit_id') or 'audit'}.yaml"
    text = store.meta("audit_yaml") or ""
    if not text.strip():
        return Plan(shown)
    data = load_located(shown, text=text)
    if not isinstance(data, LMap):
        raise UserError(f"{shown}:1: an audit file is a mapping")
    derived = parse_derived(data.get("derived"), store.codebook, shown)
    return Plan(shown, derived, data.get("analyses"))


def variables(codebook, derived: list[Derived]) -> dict[str, Variable]:
    known = {
        f.name: Variable(f.name, f.type, f.label, tuple((c.code, c.label) for c in f.choices if not c.missing))
        for f in codebook.record_fields
    }
    for d in derived:
        choices = ((0, "No"), (1, "Yes")) if d.kind == "binary" else ()
        known[d.name] = Variable(d.name, d.kind, d.label or d.name, choices)
    return known


def analysis_frame(store, plan: Plan | None = None) -> tuple[pd.DataFrame, dict[str, Variable]]:
    from chartcode.dataset import notes_frame, records_frame

    plan = plan or load_plan(store)
    records = records_frame(store)
    for f in store.codebook.record_fields:  # a scale's "cannot rate" is missing for statistics, not a value
        if f.missing_codes:
            records[f.name] = records[f.name].mask(records[f.name].isin(f.missing_codes))
    # with branching logic the notes carry their sources: a count knows a note where its field is n/a
    frame = add_derived(records, notes_frame(store, sources=store.codebook.has_logic), plan.derived)
    return frame, variables(store.codebook, plan.derived)


def parse_analyses(section: Any, known: dict[str, Variable], shown: str) -> list[Spec]:
    if section is None:
        return []
    if not isinstance(section, list):
        raise UserError(f"{shown}:{getattr(section, 'line', 1)}: 'analyses' must be a list")
    specs: list[Spec] = []
    for i, item in enumerate(section):
        line = section.line_of(i) if isinstance(section, LList) else None
        at = f"{shown}:{line}" if line else shown
        kinds = [k for k in item if k in KINDS] if isinstance(item, dict) else []
        if len(kinds) != 1:
            raise UserError(f"{at}: analyses item {i + 1}: give exactly one of: {', '.join(KINDS)}")
        kind = kinds[0]
        allowed = {kind, "where", "title", *(("by",) if kind == "describe" else ())}
        for k in item:
            if k not in allowed:
                kl = item.line_of(k) if isinstance(item, LMap) else line
                raise UserError(
                    f"{shown}:{kl}: analyses item {i + 1} ({kind}): unknown key {k!r} "
                    f"(expected: {', '.join(sorted(allowed))})"
                )
        body = item[kind]
        origin = f"{at}: {kind} {body!r}" if isinstance(body, str) else f"{at}: {kind}"
        if kind == "describe":
            fields = body if isinstance(body, list) else [body]
            if not all(isinstance(f, str) for f in fields):
                raise UserError(f"{at}: describe: give a list of field names")
            spec = parse_describe(list(fields), item.get("by"), known, origin)
        elif kind in ("linear", "logistic"):
            spec = parse_formula(kind, body, known, origin)
        else:
            spec = parse_by(kind, body, known, origin)
        raw_where = item.get("where") or []
        for w in raw_where if isinstance(raw_where, list) else [raw_where]:
            spec.where.append(parse_where(w, known, f"{at}: where {w!r}"))
        spec.title = str(item.get("title") or "")
        specs.append(spec)
    return specs


def cli_specs(
    known: dict[str, Variable], *, describe=(), by=None, linear=(), logistic=(), welch=(), crosstab=()
) -> list[Spec]:
    """Specs from command-line options; errors name the option and its text."""
    specs: list[Spec] = []
    fields = [f for d in describe for f in d.replace(",", " ").split()]
    if fields:
        specs.append(parse_describe(fields, by, known, f"--describe {' '.join(fields)!r}"))
    elif by:
        raise UserError("--by goes with --describe")
    for text in linear:
        specs.append(parse_formula("linear", text, known, f'--linear "{text}"'))
    for text in logistic:
        specs.append(parse_formula("logistic", text, known, f'--logistic "{text}"'))
    for text in welch:
        specs.append(parse_by("welch", text, known, f'--welch "{text}"'))
    for text in crosstab:
        specs.append(parse_by("crosstab", text, known, f'--crosstab "{text}"'))
    return specs


@dataclass
class Prepared:
    """What the analyses need, read from the store: run them with :meth:`run` (which reads nothing
    more, so it may run in another process: the xlsx export's chartcode.forked)."""

    specs: list[Spec]
    frame: pd.DataFrame
    known: dict[str, Variable]
    ci: float

    def run(self) -> dict[str, Any]:
        return {"analyses": [run_spec(s, self.frame, self.known, self.ci) for s in self.specs]}


def run_stats(
    store,
    *,
    options: dict[str, Any] | None = None,
    where=(),
    ci: float = 0.95,
    frame: tuple[pd.DataFrame, dict[str, Variable]] | None = None,
) -> dict[str, Any]:
    """Run the analyses given by command-line ``options`` (see cli_specs), or else the audit's.
    ``frame``: what :func:`analysis_frame` gives, built already (the report builds it record span by
    record span); the analyses must not change it."""
    return prepare_stats(store, options=options, where=where, ci=ci, frame=frame).run()


def prepare_stats(
    store,
    *,
    options: dict[str, Any] | None = None,
    where=(),
    ci: float = 0.95,
    frame: tuple[pd.DataFrame, dict[str, Variable]] | None = None,
) -> Prepared:
    """:func:`run_stats`'s reading and parsing (a UserError for a bad plan or option is raised here),
    without running the analyses."""
    if not 0 < ci < 1:
        raise UserError(f"--ci {ci}: give a level between 0 and 1, e.g. 0.95")
    plan = load_plan(store)
    frame, known = analysis_frame(store, plan) if frame is None else frame
    specs = cli_specs(known, **(options or {}))
    if not specs:
        specs = parse_analyses(plan.analyses, known, plan.shown)
        if not specs:
            where_ = (
                plan.shown if plan.analyses is not None or store.meta("audit_yaml") else "this database (no audit file)"
            )
            raise UserError(
                f"{where_}: no 'analyses' declared; give --describe, --linear, --logistic, --welch or --crosstab"
            )
    filters = [parse_where(w, known, f'--where "{w}"') for w in where]
    for s in specs:
        s.where = [*s.where, *filters]
    return Prepared(specs, frame, known, ci)
