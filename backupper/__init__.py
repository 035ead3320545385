"""Marks backupper/ as a package so its tests import as `backupper.tests`, distinct from the
top-level `tests` package when pytest collects every test directory in one run."""
