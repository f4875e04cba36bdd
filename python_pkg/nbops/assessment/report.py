"""An assessment as a reader sees it: the stable JSON for CI, a text table, and an HTML page.

The JSON layout carries ``schema`` (``nbops.assess/1``); fields are only ever added under that
name, so a CI step can rely on ``project.score``, ``models[].score`` and ``models[].tests[]``.
The HTML page is a plain Jinja2 template (``templates/assessment.html.j2``; a project's own
``templates/assessment.html.j2`` wins), rendered with autoescaping, so model names and evidence
from the store are shown as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..version import __version__
from .evidence import ProjectEvidence
from .rubric import SECTION_TITLES, SECTIONS, TESTS, level
from .scoring import AUTOMATED, MANUAL, MISSING, NOT_ASSESSABLE, ModelScore

SCHEMA = "nbops.assess/1"
TEMPLATE = "assessment.html.j2"
RUBRIC = (
    "The ML Test Score (Breck et al., 2017): 28 tests in four sections; half a point by hand, "
    "a full point automated; a model scores its lowest section."
)


@dataclass
class Assessment:
    """The scores of every model assessed, with the project-wide facts they were decided on."""

    project: ProjectEvidence
    models: list[ModelScore]
    generated: str

    @property
    def score(self) -> float | None:
        """The weakest model's score (None when there is no model)."""
        return min((m.score for m in self.models), default=None)

    def to_dict(self) -> dict[str, Any]:
        counts = {status: 0 for status in (AUTOMATED, MANUAL, MISSING, NOT_ASSESSABLE)}
        for m in self.models:
            for t in m.tests:
                counts[t.status] += 1
        score = self.score
        weakest = sorted(m.model for m in self.models if m.score == score)
        return {
            "schema": SCHEMA,
            "nbops_version": __version__,
            "generated": self.generated,
            "rubric": RUBRIC,
            "serving_alias": self.project.serving_alias,
            "project": {
                "models": len(self.models),
                "score": score,
                "level": level(score) if score is not None else None,
                "weakest": weakest,
                "counts": counts,
                "audit": {
                    "intact": self.project.audit_ok,
                    "events": self.project.audit_checked,
                    "problems": self.project.audit_problems,
                },
                "review_every": self.project.review_every,
            },
            "models": [_model_dict(m) for m in self.models],
        }

    def text(self) -> str:
        """Per model a table of the assessable tests, then the project-wide picture."""
        lines: list[str] = []
        not_assessable = [t.id for t in TESTS if t.check is None]
        for m in self.models:
            served = f" ({m.serving_alias})" if m.serves else ""
            version = f"v{m.version}{served}" if m.version else "no versions"
            sections = "  ".join(f"{s} {m.sections[s]:g}" for s in SECTIONS)
            lines += [f"{m.model} {version}: score {m.score:g} — {m.level}", f"  {sections}"]
            rows = [
                (t.id, f"{t.points:g}", t.status, "; ".join(t.evidence) or "-", t.next_step or "-")
                for t in m.tests
                if t.status != NOT_ASSESSABLE
            ]
            lines += [
                "  " + row for row in _table(("TEST", "POINTS", "STATUS", "EVIDENCE", "NEXT STEP"), rows)
            ]
            lines.append("")
        facts = self.to_dict()["project"]
        if not self.models:
            lines.append("no registered models to assess; register one with nbops.register(...).")
            return "\n".join(lines)
        lines.append(f"not assessable from records (need a person's judgment): {', '.join(not_assessable)}")
        lines.append(
            f"project: {facts['models']} model(s); weakest score {facts['score']:g} "
            f"({', '.join(facts['weakest'][:5])}{' …' if len(facts['weakest']) > 5 else ''}) — {facts['level']}"
        )
        counts = facts["counts"]
        lines.append(
            f"tests: {counts[AUTOMATED]} automated, {counts[MANUAL]} by hand, {counts[MISSING]} missing, "
            f"{counts[NOT_ASSESSABLE]} not assessable; audit chain "
            + ("intact" if self.project.audit_ok else "BROKEN (nbops audit --verify)")
        )
        return "\n".join(lines)

    def html(self, start: Any = None) -> str:
        """The assessment as one HTML page."""
        import jinja2

        from .. import config

        own = config.resolve(start).project_root / "templates" / TEMPLATE
        folder = own.parent if own.is_file() else Path(__file__).parents[1] / "templates"
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, undefined=jinja2.StrictUndefined
        )
        return env.get_template(TEMPLATE).render(
            report=self.to_dict(),
            sections=[(s, SECTION_TITLES[s]) for s in SECTIONS],
            not_assessable=[t for t in TESTS if t.check is None],
        )


def _model_dict(m: ModelScore) -> dict[str, Any]:
    return {
        "model": m.model,
        "version": m.version,
        "serves": m.serves,
        "score": m.score,
        "level": m.level,
        "sections": m.sections,
        "tests": [t.to_dict() for t in m.tests],
    }


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in [header, *rows]
    ]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
