import os
import sys

try:
    from deeperfour.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line itself is loading (cli.main handles it from then on)
    print("deeperfour: interrupted (Ctrl-C); no output was written", file=sys.stderr, flush=True)
    os._exit(130)  # not sys.exit: modules left half imported can raise again on the interpreter's way out

sys.exit(main())
