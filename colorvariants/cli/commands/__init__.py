"""One module per sub-command; each calls ``colorvariants.cli.registry.register`` when imported."""
