import sys

try:
    from deeperfour.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line itself is loading (cli.main handles it from then on)
    print("deeperfour: interrupted (Ctrl-C); no output was written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
