"""``python3 -m kas.completion bash|zsh|fish``: print the completion
script for kas and kas-container."""

import sys

from kas.completion import render

USAGE = "usage: python3 -m kas.completion {bash,zsh,fish}\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        stream = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        stream.write(USAGE)
        return 0 if stream is sys.stdout else 2
    try:
        sys.stdout.write(render(argv[0]))
    except KeyError:
        sys.stderr.write(f"unknown shell {argv[0]!r}\n" + USAGE)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
