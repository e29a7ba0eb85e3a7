"""The model page's context, and the same page as one self-contained file
(``haechi report MODEL -o report.html``): the stylesheet inlined, no script, no links
out, text escaped by the same templates, and a CSP that allows nothing else."""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

from haechi import __version__
from haechi.charts import rates_chart, ratings_chart, scores_chart
from haechi.evaluate.leaderboard import group_columns
from haechi.model_summary import ModelSummary
from haechi.web.i18n import Language, translate

# The file's policy: its own inline stylesheet and nothing else (no script, no fetches).
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def model_context(summary: ModelSummary) -> dict[str, Any]:
    """What ``model.html`` shows: the summary and its charts."""
    row = summary.row or (summary.partial_rows[0] if summary.partial_rows else None)
    columns = [c for c in summary.board.columns if row and c in row.values]
    group = next((g for g in summary.board.groups if row and g in row.values), None)
    if group is not None:
        columns = [c for c in group_columns(summary.board, group) if c in columns]
    names = [summary.specs[0]] + ([summary.against.model_spec] if summary.against else [])
    charts = {
        "scores": scores_chart(columns, [row, summary.against], names) if columns else None,
        "redteam": [
            rates_chart("ASR (%)", r.by_category) for r in summary.redteam if r.by_category
        ],
        "arena": [ratings_chart(a.ratings) for a in summary.arena],
    }
    return {"summary": summary, "row": row, "columns": columns, "charts": charts}


def render_report(summary: ModelSummary, language: Language = "en") -> str:
    """The model page as a standalone HTML document."""
    folder = resources.files("haechi").joinpath("web")
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder.joinpath("templates"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    css = folder.joinpath("static", "app.css").read_text("utf-8")
    return environment.get_template("model.html").render(
        standalone=True,
        stylesheet=css,
        csp=REPORT_CSP,
        viewer=None,
        lang=language,
        t=lambda key: translate(key, language),
        version=__version__,
        **model_context(summary),
    )
