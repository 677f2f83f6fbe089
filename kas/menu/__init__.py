"""``kas menu`` (CLI-190 ... CLI-194): :mod:`kas.menu.config` is the Kconfig
side (load, apply ``menu_configuration``, generate ``.config.yaml``) and
:mod:`kas.menu.ui` the curses menu.

Both need kconfiglib, an optional dependency, so this package imports them
only when the menu runs.
"""


def edit(ctx, kconfig_path):
    """Show the menu for the Kconfig file with the stored values applied and
    store the result unless the user chose Exit; returns the choice:
    "build", "save" or "exit"."""
    from kas.menu import config

    kconf = config.load_kconfig(kconfig_path)
    state = config.state_path(ctx.work_dir)
    config.apply_menu_configuration(kconf, config.read_menu_configuration(state), state)

    from kas.menu.ui import run_menu

    action = run_menu(kconf, no_color=ctx.no_color)   # the screen is closed again
    config.log_kconfig_warnings(kconf)
    if action != "exit":
        config.save(config.render(config.generate(kconf, kconfig_path, ctx)), state)
    return action
