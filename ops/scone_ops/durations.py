"""Durations on the command line: `30s`, `5m`, `1h`, or plain seconds."""

from __future__ import annotations

import re

import click

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 1}


class Duration(click.ParamType[float, object]):
    """A click type returning seconds; a bad value names the flag and the accepted forms."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = _DURATION.match(str(value))
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration; use e.g. 30s, 5m, 1h or seconds (> 0)", param, ctx)
        return float(match.group(1)) * _UNIT[match.group(2)]
