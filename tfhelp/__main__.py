"""``python -m tfhelp``."""
import sys

from tfhelp.assistant.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
