"""One module per command group; each exports `group`, listed in scone_ops.cli.GROUPS."""
