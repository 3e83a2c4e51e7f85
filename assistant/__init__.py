"""The tfhelp application: a thin shell (CLI, REPL, runner, probe, fixes) over :mod:`tfhelp.kb`."""
