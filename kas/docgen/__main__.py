"""``python3 -m kas.docgen [--check]``: regenerate docs/reference/."""

import sys

from kas.docgen.generate import outdated, write


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--check"]:
        stale = outdated()
        for name in stale:
            sys.stderr.write(f"docs/reference/{name} is out of date: "
                             "run python3 -m kas.docgen\n")
        return 1 if stale else 0
    if argv:
        sys.stderr.write("usage: python3 -m kas.docgen [--check]\n")
        return 2
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
