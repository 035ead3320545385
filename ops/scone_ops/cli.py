"""The root of `scone-ops`: one command group per module of `scone_ops.commands`.

Adding a group is adding a module with a `group` (a click.Group or click.Command) and listing it
in GROUPS; the root only turns errors into their exit codes.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from scone_ops import __version__
from scone_ops.errors import ExitCode, OpsError
from scone_ops.output import Output

#: Modules under scone_ops.commands, each exporting `group`.
GROUPS = ("cas", "node", "audit", "backup", "reconcile", "status")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="scone-ops")
def root() -> None:
    """Day-2 operations of a scone-stack CAS, safe by default.

    \b
    Exit codes:
      0 ok                1 internal error     2 usage              3 stack file invalid
      4 kubectl failed    5 not found          6 refused (unsafe; nothing changed)
      7 backup missing, stale or unreadable
      8 failed mid-way (nodes it cordoned are uncordoned; says where CAS is)
      130 interrupted (same clean-up)
    """


for _name in GROUPS:
    root.add_command(importlib.import_module(f"scone_ops.commands.{_name}").group)


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - one return per exit class
    """Entry point; returns the documented exit code."""
    try:
        code = root.main(args=list(argv) if argv is not None else None, prog_name="scone-ops",
                         standalone_mode=False)
    except OpsError as err:
        Output().error(err)
        return int(err.code)
    except click.exceptions.Abort:
        Output().err.print("aborted")
        return int(ExitCode.INTERRUPTED)
    except click.UsageError as err:
        err.show()
        return int(ExitCode.USAGE)
    except click.ClickException as err:
        err.show()
        return int(err.exit_code)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except Exception as err:  # the last line of defence: a bug gets its own exit code
        Output().err.print(f"internal error (a bug in scone-ops): {type(err).__name__}: {err}", markup=False)
        return int(ExitCode.INTERNAL)
    return int(code) if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
