"""Console-script entry point: ``tfhelp`` and ``python -m tfhelp``."""
import sys


def main(argv=None) -> int:
    from tfhelp.assistant.frontends.cli import main as cli_main
    from tfhelp.assistant.context import Context

    try:
        return cli_main(sys.argv[1:] if argv is None else argv, Context.from_process())
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        # `tfhelp ... | head`: the reader left; exit quietly like other Unix tools.
        try:
            sys.stdout = None  # type: ignore[assignment]
        except Exception:  # noqa: BLE001
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
