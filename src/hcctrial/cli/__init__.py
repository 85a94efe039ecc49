"""The ``hcctrial`` command: thin wrappers that parse arguments, call the API and show results.

Each command group lives in its own module with a ``register(app)`` function; this module only
assembles them and turns :class:`~hcctrial.errors.HcctrialError` into a message and exit code 1
(bad input), leaving typer's exit code 2 for usage errors.
"""

from __future__ import annotations

import sys

import typer

from hcctrial.cli import calc as _calc
from hcctrial.cli import data as _data
from hcctrial.cli import endpoints as _endpoints
from hcctrial.cli import escalation as _escalation
from hcctrial.cli import kinetics as _kinetics
from hcctrial.cli import protocols as _protocols
from hcctrial.cli import report as _report
from hcctrial.cli import response as _response
from hcctrial.cli import safety as _safety
from hcctrial.cli import schedule as _schedule
from hcctrial.cli import screen as _screen
from hcctrial.cli import simulate as _simulate
from hcctrial.cli import web as _web
from hcctrial.errors import HcctrialError

app = typer.Typer(
    name="hcctrial",
    help="Computable cell-therapy trials in advanced hepatocellular carcinoma.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_MODULES = (
    _protocols,
    _calc,
    _data,
    _report,
    _screen,
    _response,
    _endpoints,
    _escalation,
    _safety,
    _schedule,
    _kinetics,
    _simulate,
    _web,
)

for _module in _MODULES:
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    from hcctrial.cli._common import print_error

    try:
        # standalone_mode=False: click returns the code of a typer.Exit instead of raising it
        code = app(args=argv, standalone_mode=False)
    except HcctrialError as exc:
        print_error(str(exc))
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        print_error("aborted")
        return 1
    except Exception as exc:
        # Usage errors from typer's (vendored) click: they know how to show themselves.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
