"""Subcommands: each module exposes NAME, HELP, register(parser) and run(args, ctx)."""
