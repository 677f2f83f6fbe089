"""The options of the clean commands, the build system they clean for and
the :class:`Cleaner` that removes what they remove (CLI-170 ... CLI-176).

None of the clean commands runs the setup pipeline to clean: the config
file, if any, is read only for its ``build_system``.
"""

import logging
import os

from kas.pipeline import add_config_argument

log = logging.getLogger(__name__)


def add_clean_options(parser):
    """CLI-170/171: --dry-run, the Isar mode flags and the config argument."""
    parser.add_argument(
        "--dry-run", action="store_true",
        help="Only log what would be removed; remove nothing")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--isar-privileged", "--isar", dest="isar_mode", action="store_const",
        const="isar-privileged",
        help="Clean an Isar build made in privileged mode (root-owned files, uses sudo)")
    mode.add_argument(
        "--isar-rootless", dest="isar_mode", action="store_const", const="isar-rootless",
        help="Clean an Isar build made in rootless mode (files owned by your "
             "subordinate ids, uses a user namespace)")
    add_config_argument(parser)


def first_config_file(ctx, args):
    """The first file of the config argument, else ``.config.yaml`` in the
    work directory if it exists, else None (CLI-171)."""
    if args.config:
        return os.path.abspath(args.config.split(":")[0])
    default = os.path.join(ctx.work_dir, ".config.yaml")
    return default if os.path.exists(default) else None


def configured_build_system(ctx, path):
    """The ``build_system`` of the config file at ``path``, validated, without
    includes or repos (CLI-171)."""
    from kas.config.includes import ISAR_DEPRECATION
    from kas.config.schema import read_config_file

    value = read_config_file(path).data.get("build_system")
    if value == "isar":
        ctx.warn_once("build_system-isar", ISAR_DEPRECATION)
    return value


def build_system_of(ctx, args):
    """CLI-172: a mode flag, else the first config file, else what the
    build directory tells, else openembedded."""
    path = first_config_file(ctx, args)
    value = configured_build_system(ctx, path) if path else None
    value = args.isar_mode or value or detected_build_system(ctx) or "openembedded"
    return {"isar": "isar-privileged", "oe": "openembedded"}.get(value, value)


def detected_build_system(ctx):
    """isar-rootless if the build directory's local.conf sets ISAR_ROOTLESS
    (as kas writes it for that build system), else None.  Neither flag nor
    config says how to clean then, and the files of an interrupted rootless
    build can only be removed from a user namespace (issue 25.3)."""
    from kas.buildenv.bbconfig import is_isar_rootless_build

    if not is_isar_rootless_build(ctx.build_dir):
        return None
    log.info("%s sets ISAR_ROOTLESS: cleaning an isar-rootless build",
             os.path.join(ctx.build_dir, "conf", "local.conf"))
    return "isar-rootless"


def rootless_command(args):
    """This clean command again, in rootless mode: what removes the files of
    the caller's subordinate ids when a plain removal could not."""
    import shlex

    words = ["kas", args.cmd, "--isar-rootless"]
    if getattr(args, "preserve_repo_refs", False):
        words.append("--preserve-repo-refs")
    if args.config:
        words.append(args.config)
    return " ".join(shlex.quote(word) for word in words)


class Cleaner:
    """Removes what the clean commands remove, logging each removal; in a
    dry run it only logs."""

    def __init__(self, ctx, args, named_dirs=()):
        from kas.clean.removal import Guard

        self.ctx = ctx
        self.dry_run = args.dry_run
        self.build_system = build_system_of(ctx, args)
        # Named when a plain removal leaves files of subordinate ids behind.
        self.rootless_command = (None if self.build_system == "isar-rootless"
                                 else rootless_command(args))
        log.debug("Cleaning a build of build system %s", self.build_system)
        if self.dry_run:
            log.warning("Dry run, not removing anything")
        # Directories the user named may be emptied even outside the work
        # and build directories; nothing else outside them is touched.
        named = [self.env_dir(name) for name in ("SSTATE_DIR", "DL_DIR", *named_dirs)]
        self.guard = Guard(ctx.work_dir, [ctx.work_dir, ctx.build_dir,
                                          *(d for d in named if d)])

    def env_dir(self, name):
        value = self.ctx.caller_env.get(name)
        return os.path.abspath(value) if value else None

    def clean(self):
        """CLI-173: every ``tmp*`` entry of the build directory."""
        from kas.clean.removal import remover_for

        build_dir = self.ctx.build_dir
        if not os.path.isdir(build_dir):
            return
        entries = [os.path.join(build_dir, name) for name in sorted(os.listdir(build_dir))
                   if name.startswith("tmp")]
        for entry in entries:
            log.info("Removing %s", entry)
            self.guard.check(entry)
        if entries and not self.dry_run:
            remover_for(self.ctx, self.build_system, self.rootless_command).remove(entries)

    def clean_sstate(self):
        """CLI-174/176: empty SSTATE_DIR or ``<build>/sstate-cache``."""
        self.empty(self.env_dir("SSTATE_DIR")
                   or os.path.join(self.ctx.build_dir, "sstate-cache"), "SSTATE_DIR")

    def clean_downloads(self):
        """CLI-175/176: empty DL_DIR or ``<build>/downloads``."""
        self.empty(self.env_dir("DL_DIR")
                   or os.path.join(self.ctx.build_dir, "downloads"), "DL_DIR")

    def empty(self, directory, variable=None):
        """Remove the contents of ``directory``, as the caller (from a user
        namespace too, for files of subordinate ids, in rootless mode)."""
        if not os.path.isdir(directory):
            return
        if not self.guard.may_enter(directory):
            hint = f" To clean it, set {variable} to it." if variable else ""
            log.warning("Not removing the contents of %s: it points to %s, outside of the "
                        "work and build directories.%s",
                        directory, os.path.realpath(directory), hint)
            return
        log.info("Removing %s/*", directory)
        kept = self.kept_in(directory)
        entries = [os.path.join(directory, name) for name in os.listdir(directory)
                   if name not in kept]
        for entry in entries:
            self.guard.check(entry)
        if self.dry_run:
            return
        remover = self.own_remover()
        if kept:
            remover.remove(sorted(entries))
        else:
            remover.empty(directory)

    def own_remover(self):
        """The remover of what is not build output (sstate, downloads, repos,
        the build directory): the caller's files, but an isar-rootless
        build's may hold files of subordinate ids anywhere."""
        from kas.clean.removal import NamespaceRemover, PlainRemover

        if self.build_system == "isar-rootless":
            return NamespaceRemover(self.ctx)
        return PlainRemover(self.ctx, self.rootless_command)

    def kept_in(self, directory):
        """What emptying ``directory`` leaves: in the work directory, the
        lock this kas holds on it (removing a held lock file would let
        another kas in at once, issue 21.1)."""
        from kas.pipeline import WORK_DIR_LOCK_FILE

        if os.path.realpath(directory) == os.path.realpath(self.ctx.work_dir):
            return {WORK_DIR_LOCK_FILE}
        return set()

    def remove(self, path):
        """Remove ``path`` (a directory tree or file) if it exists."""
        if not os.path.lexists(path):
            return
        log.info("Removing %s", path)
        self.guard.check(path)
        if not self.dry_run:
            self.own_remover().remove([path])
