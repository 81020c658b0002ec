"""Human-readable run reports: the markdown summary attached to every flow run."""

from __future__ import annotations

from typing import Any


def run_summary_markdown(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Markdown of a run: totals, then one line per brand (status, series, rows, time)."""
    lines = [
        f"# Forecast run `{summary['run_id']}` — {summary['status']}",
        "",
        f"as-of **{summary['as_of']}** · {summary['brands']} brands · "
        f"{summary['n_series']} series · {summary['rows'].get('forecasts', 0)} forecast rows · "
        f"{summary['seconds']} s",
        "",
        "| brand | sector | status | series | rows | selected model | seconds | error |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["status"] != "failed", r["brand"])):
        lines.append(
            f"| {r['brand']} | {r['sector']} | {r['status']} | {r.get('n_series', '')} | "
            f"{r.get('n_rows', '')} | {r.get('selected_model', '')} | {r['seconds']} | "
            f"{(r.get('error') or '').replace('|', '/')[:200]} |"
        )
    return "\n".join(lines)
