"""``conf/bblayers.conf`` and ``conf/local.conf`` (GEN-000 ... GEN-025)."""

import os


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
        text += 'ISAR_ROOTLESS ?= "1"\n'
    return text


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
