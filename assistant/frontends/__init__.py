"""Front ends over the library: the argparse CLI and its subcommands, the REPL, the script runner."""
