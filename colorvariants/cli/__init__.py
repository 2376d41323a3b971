"""The command line: a thin layer over the stages. Each sub-command is one file in ``cli/commands/``."""
