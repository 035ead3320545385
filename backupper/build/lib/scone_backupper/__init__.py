"""scone-backupper: ships CAS database snapshots to S3 and restores them.

The package is split into small modules with one job each: the snapshot source (a tar stream from
a command), the snapshot checks, the S3 store, the manifest, retention, metrics, logging and the
CLI. `backup.run_once` ties them together for one backup run.
"""

__version__ = "0.1.0"
