"""scone-ops: the day-2 operations of a scone-stack CAS as commands, safe by default."""

__version__ = "0.1.0"
