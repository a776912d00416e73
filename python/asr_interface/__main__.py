"""`python -m asr_interface [flags]` runs the server, like `asr-interface serve [flags]`."""

import sys

from asr_interface.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
