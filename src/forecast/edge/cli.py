"""Command line ``forecast``: the pipeline and planning verbs, registered on one Typer app.

The verbs register themselves on :data:`forecast.edge.app.app` when their module is imported.
"""

from __future__ import annotations

from rich.markup import escape

from forecast import warehouse
from forecast.edge import pipeline_verbs, planning_verbs
from forecast.edge.app import app, err

__all__ = ["app", "main", "pipeline_verbs", "planning_verbs"]


def main() -> None:
    """Console entry point: project errors become one clear line and exit code 1."""
    try:
        app()
    except warehouse.WarehouseError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
