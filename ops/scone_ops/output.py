"""How results reach the user: Rich tables for people, one JSON document for scripts.

Results go to stdout; progress, warnings and errors go to stderr, so `--output json | jq` always
reads a single clean document, including for an error (with its exit code and next step).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from scone_ops.errors import OpsError
from scone_ops.plan import Plan


@dataclass
class Output:
    """`--output table` (default) or `--output json`."""

    mode: str = "table"
    out: Console = field(default_factory=lambda: Console(soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    @property
    def json(self) -> bool:
        return self.mode == "json"

    def progress(self, message: str) -> None:
        """A progress line on stderr (shown in both modes: scripts keep stdout clean)."""
        self.err.print(message, markup=False, highlight=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False)

    def result(self, data: dict[str, Any], human: Callable[[Console], None]) -> None:
        """Print a command's result: JSON document or the human rendering."""
        if self.json:
            self.out.print_json(json.dumps(data, default=str))
        else:
            human(self.out)

    def error(self, err: OpsError) -> None:
        """An error: JSON on stdout in json mode (scripts read one document), always text on stderr."""
        if self.json:
            self.out.print_json(json.dumps(err.as_dict()))
        self.err.print(f"[bold red]error:[/] {escape(err.message)}", highlight=False)
        if err.state:
            self.err.print(f"[bold]cluster state:[/] {escape(err.state)}", highlight=False)
        if err.next_step:
            self.err.print(f"[bold]next step:[/] {escape(err.next_step)}", highlight=False)

    def plan(self, plan: Plan, dry_run: bool) -> None:
        """The steps of a changing command; in json mode only under --dry-run (a real run's result has them)."""
        if self.json and not dry_run:
            return
        def human(console: Console) -> None:
            head = "DRY RUN, nothing changed: " if dry_run else ""
            console.print(f"[bold]{escape(head + plan.title)}[/]", highlight=False)
            for key, value in plan.facts.items():
                console.print(f"  {key}: {value}", markup=False, highlight=False)
            table = Table("#", "step", "command")
            for index, step in enumerate(plan.steps, 1):
                table.add_row(str(index), Text(step.description),
                              Text(" ".join(step.argv) if step.argv else "(reads only)"))
            console.print(table)
        self.result({**plan.as_dict(), "dry_run": dry_run}, human)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """A Rich table whose cells are plain text."""
    t = Table(*columns, title=title)
    for row in rows:
        t.add_row(*(Text(str(cell)) for cell in row))
    return t


def mark(value: bool) -> str:
    """yes/no for boolean columns, readable without colour."""
    return "yes" if value else "NO"
