"""``conf/bblayers.conf`` and ``conf/local.conf`` (GEN-000 ... GEN-025)."""

import os
import re


def header(entries):
    """GEN-003: ``# <name>`` and the value, entries sorted by name."""
    return "".join(f"# {name}\n{entries[name]}\n" for name in sorted(entries or {}))


def layer_lines(build_dir, repos):
    """GEN-010 ... GEN-012: ``${TOPDIR}/<rel>`` in bitbake's order."""
    layers = [(-layer.prio, spec.name, layer.key, layer.path)
              for spec in repos.values() for layer in spec.layers]
    return ["${TOPDIR}/" + os.path.relpath(path, build_dir)
            for *_, path in sorted(layers, key=lambda item: item[:3])]


def bblayers_conf(config, repos, build_dir):
    lines = layer_lines(build_dir, repos)
    return (header(config.data.get("bblayers_conf_header"))
            + 'BBLAYERS ?= " \\\n    ' + " \\\n    ".join(lines) + '"\n'
            + 'BBPATH ?= "${TOPDIR}"\n'
            + 'BBFILES ??= ""\n')


def multiconfigs(targets):
    """GEN-022: multiconfig names in order of first appearance."""
    names = []
    for target in targets:
        for prefix in ("mc:", "multiconfig:"):
            if target.startswith(prefix):
                name = target[len(prefix):].split(":", 1)[0]
                if name not in names:
                    names.append(name)
    return names


def local_conf(config, cli_targets=None):
    text = (header(config.data.get("local_conf_header"))
            + f'MACHINE ??= "{config.machine()}"\n'
            + f'DISTRO ??= "{config.distro()}"\n'
            + 'BBMULTICONFIG ?= "{}"\n'.format(" ".join(
                multiconfigs(config.targets(cli_targets)))))
    if config.build_system() == "isar-rootless":
        text += ISAR_ROOTLESS_LINE
    return text


# What GEN-024 adds for build_system isar-rootless; ``kas clean`` without a
# mode finds it again (issue 25.3).
ISAR_ROOTLESS_LINE = 'ISAR_ROOTLESS ?= "1"\n'

_ISAR_ROOTLESS_ASSIGNMENT = re.compile(
    r"""^\s*ISAR_ROOTLESS\s*(=|:=|\?=|\?\?=)\s*(["'])(.*)\2\s*$""")
# bb.utils.to_boolean's true values (Isar reads ISAR_ROOTLESS with it).
_TRUE = ("1", "yes", "y", "true", "t", "on")


def isar_rootless_value(text):
    """The value ``text`` (a local.conf) gives ISAR_ROOTLESS, as bitbake
    would: the last ``=``/``:=``, else the first ``?=``, else the last
    ``??=``; None if it sets none."""
    assignments = [m.groups()[::2] for m in map(_ISAR_ROOTLESS_ASSIGNMENT.match,
                                                text.splitlines()) if m]
    for operators, pick in (((":=", "="), -1), (("?=",), 0), (("??=",), -1)):
        values = [value for op, value in assignments if op in operators]
        if values:
            return values[pick]
    return None


def is_isar_rootless_build(build_dir):
    """Whether ``build_dir``'s conf/local.conf sets ISAR_ROOTLESS to true
    (kas wrote it for build_system isar-rootless, or a header did)."""
    try:
        with open(os.path.join(build_dir, "conf", "local.conf"), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    value = isar_rootless_value(text)
    return value is not None and value.strip().lower() in _TRUE


def write_bbconfig(ctx):
    conf = os.path.join(ctx.build_dir, "conf")
    os.makedirs(conf, exist_ok=True)
    files = {
        "bblayers.conf": bblayers_conf(ctx.config, ctx.repos, ctx.build_dir),
        "local.conf": local_conf(ctx.config, getattr(ctx.args, "target", None)),
    }
    for name, text in files.items():
        with open(os.path.join(conf, name), "w", encoding="utf-8") as f:
            f.write(text)
