"""Every environment variable kas and kas-container read: the data behind
docs/reference/environment.md.  tests/test_reference_docs.py checks that
each variable the code reads is listed here.

Each entry: (names, read by, commands, what it does).
"""

ALL = "all commands"
SETUP = "build, shell, checkout, dump, lock, diff, for-all-repos, menu"
BUILD = "build, shell, for-all-repos, menu (the bitbake environment)"
CLEAN = "clean, cleansstate, cleanall, purge"

VARIABLES = (
    # Directories and layout
    (("KAS_WORK_DIR",), "kas, kas-container", ALL,
     ("Work directory: repos without a path are cloned below it; `.config.yaml` "
      "and the shell history live in it. Default: the current directory.")),
    (("KAS_BUILD_DIR",), "kas, kas-container", ALL,
     "Build directory. Default: `<KAS_WORK_DIR>/build`."),
    (("KAS_REPO_REF_DIR",), "kas, kas-container", SETUP + ", purge",
     ("Directory of bare reference clones used to speed up cloning; "
      "`purge --preserve-repo-refs` keeps it.")),
    (("KAS_BUILDTOOLS_DIR",), "kas, kas-container", "build, shell, checkout",
     ("Where the Yocto buildtools of a `buildtools` section are installed. "
      "Default: `<KAS_BUILD_DIR>/buildtools`.")),
    (("DL_DIR",), "kas, kas-container", BUILD + "; " + CLEAN,
     "bitbake download directory; forwarded to bitbake, emptied by `cleanall`."),
    (("SSTATE_DIR",), "kas, kas-container", BUILD + "; " + CLEAN,
     ("bitbake sstate directory; forwarded to bitbake, emptied by `cleansstate` "
      "and `cleanall`.")),
    (("SSTATE_MIRRORS",), "kas, kas-container", BUILD,
     "Forwarded to bitbake; kas-container warns about `file:///` mirrors."),
    (("BB_HASHSERVE_DB_DIR",), "kas, kas-container", BUILD,
     "Directory of the hash equivalence server database; forwarded to bitbake."),
    (("BB_HASHSERVE", "BB_HASHSERVE_UPSTREAM"), "kas, kas-container", BUILD,
     "Forwarded to bitbake."),
    (("TMPDIR",), "kas", BUILD, "Forwarded to bitbake (not by kas-container)."),
    # Overrides of project settings
    (("KAS_MACHINE",), "kas, kas-container", SETUP,
     "Replaces the configured `machine`."),
    (("KAS_DISTRO",), "kas, kas-container", SETUP, "Replaces the configured `distro`."),
    (("KAS_TARGET",), "kas, kas-container", "build, shell",
     ("Whitespace-separated targets replacing the configured `target`; "
      "`--target` wins.")),
    (("KAS_TASK",), "kas, kas-container", "build, shell",
     "Replaces the configured `task`; `-c`/`--task` wins."),
    # Repository fetching
    (("KAS_PREMIRRORS",), "kas, kas-container", SETUP,
     ("Newline-separated `<regex> <replacement>` pairs rewriting repo URLs "
      "before cloning and fetching.")),
    (("KAS_CLONE_DEPTH",), "kas, kas-container", SETUP,
     "Depth of shallow clones; `0` (default) clones the whole history."),
    (("KAS_REPO_CACHE_DIR",), "kas, kas-container", SETUP,
     ("A shared cache of repositories, one entry per URL (a bare git mirror or "
      "an hg repository), fetched into first and kept fresh; work dirs are "
      "cloned from it and never depend on it. Wins over `KAS_REPO_REF_DIR`. "
      "Prune with `python3 -m kas.cache prune --older-than 30d`.")),
    (("KAS_OFFLINE",), "kas, kas-container", SETUP + ", build",
     ("`1` (or yes/true/on): no network at all; everything comes from the "
      "existing checkouts and the cache, or kas fails before touching any "
      "checkout, listing what is missing. bitbake gets `BB_NO_NETWORK=1`.")),
    (("KAS_VALIDATION_CACHE",), "kas", SETUP,
     ("`0` (or no/false/off): parse and validate every configuration file, instead "
      "of remembering the contents that passed, parsed, in `$XDG_CACHE_HOME/kas/validated` "
      "(default `~/.cache/kas/validated`; harmless to delete, never used by "
      "another kas version or schema).")),
    (("XDG_CACHE_HOME",), "kas", SETUP,
     "Where the validation cache lives (`KAS_VALIDATION_CACHE`). Default: `~/.cache`."),
    (("KAS_FETCH_JOBS",), "kas", SETUP,
     "How many repositories are fetched at once (default: 8 per CPU, 8 to 64)."),
    (("KAS_LOCK_TIMEOUT",), "kas, kas-container", SETUP + ", clean, cleansstate, cleanall, purge",
     ("Seconds to wait for another kas using the same work directory before "
      "giving up (default: forever on a terminal, 3600 otherwise).")),
    (("KAS_JOURNAL",), "kas, kas-container", SETUP + ", build",
     ("Path of a JSON journal of the run (steps, repositories, bitbake, exit "
      "status) written when the command ends; see docs/journal.md.")),
    (("KAS_ISAR_HOST_CHECK",), "kas, kas-container", "build, shell, menu",
     ("`0` (or no/false/off): skip the host check of `build_system: isar-rootless` "
      "(util-linux 2.39, mmdebstrap 1.4, the en_US.UTF-8 locale, subordinate ids, "
      "user namespaces, newuidmap), for a host it misjudges; see docs/build.md.")),
    (("DISTRO_APT_PREMIRRORS",), "kas-container", BUILD,
     "Only forwarded into the container, for Isar builds to use via `env:`."),
    (("GIT_PROXY_COMMAND",), "kas", BUILD, "Passed to bitbake if set."),
    (("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "NO_PROXY"),
     "kas, kas-container", ALL,
     ("Proxy settings passed to git and bitbake; kas-container forwards them "
      "unless `--no-proxy-from-env`.")),
    # Credentials
    (("SSH_PRIVATE_KEY",), "kas", SETUP,
     ("Private key text added to an ssh-agent that kas starts; conflicts with "
      "`SSH_AUTH_SOCK`.")),
    (("SSH_PRIVATE_KEY_FILE",), "kas", SETUP,
     "Private key file added to an ssh-agent that kas starts."),
    (("SSH_AUTH_SOCK",), "kas, kas-container", SETUP,
     ("Socket of an external ssh-agent, passed to git and bitbake; "
      "kas-container forwards it only with `--ssh-agent`.")),
    (("GITCONFIG_FILE",), "kas, kas-container", SETUP,
     "gitconfig copied into the private HOME as `.gitconfig`."),
    (("GIT_CREDENTIAL_HELPER", "GIT_CREDENTIAL_USEHTTPPATH"), "kas, kas-container", SETUP,
     "`credential.helper` and `credential.useHttpPath` of the private gitconfig."),
    (("KAS_GIT_CREDENTIAL_STORE",), "kas-container", ALL,
     "Host git-credential-store file; same as `--git-credential-store`."),
    (("KAS_GIT_CREDENTIAL_SOCKET",), "kas-container", ALL,
     "Host git-credential-cache socket; same as `--git-credential-socket`."),
    (("NETRC_FILE",), "kas, kas-container", SETUP,
     "Copied into the private HOME as `.netrc`."),
    (("NPMRC_FILE",), "kas, kas-container", SETUP,
     "Copied into the private HOME as `.npmrc`."),
    (("REGISTRY_AUTH_FILE",), "kas, kas-container", SETUP,
     ("Container registry credentials, copied to `.docker/config.json` in the "
      "private HOME.")),
    (("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"), "kas, kas-container", SETUP,
     "Copied to `.aws/config` and `.aws/credentials` in the private HOME."),
    (("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"), "kas, kas-container", SETUP,
     "AWS web-identity (OIDC) credentials for the private HOME."),
    (("CI_SERVER_HOST", "CI_SERVER_PORT", "CI_SERVER_PROTOCOL", "CI_SERVER_SHELL_SSH_HOST",
      "CI_SERVER_SHELL_SSH_PORT", "CI_JOB_TOKEN"), "kas", SETUP,
     "GitLab CI: git credentials and URL rewrites for the CI server."),
    (("CI_REGISTRY", "CI_REGISTRY_USER"), "kas", SETUP,
     "GitLab CI: with `CI_JOB_TOKEN`, a registry login in `.docker/config.json`."),
    (("CI_PROJECT_DIR",), "kas, container entrypoint", SETUP,
     "GitLab CI: added as git `safe.directory`."),
    (("GIT_CLONE_PATH",), "container entrypoint", ALL,
     "GitLab custom clone path, added as git `safe.directory`."),
    (("CI_JOB_URL",), "kas", "build --provenance",
     "Recorded as the invocation id of provenance attestations."),
    # Environment detection
    (("GITHUB_ACTIONS",), "kas", SETUP, "`true`: the managed environment is GitHub Actions."),
    (("GITLAB_CI",), "kas", SETUP, "`true`: the managed environment is GitLab CI."),
    (("REMOTE_CONTAINERS",), "kas", SETUP,
     "`true`: VSCode remote containers; the `REMOTE_CONTAINERS_*` variables are kept."),
    (("KAS_CONTAINER_SCRIPT_VERSION",), "kas", ALL,
     "Set by kas-container; kas warns when it differs from its own version."),
    (("_KAS_REPO_DIR_HOST",), "kas", "menu",
     ("Set by kas-container: host path of the repository, written as "
      "`_source_dir_host`.")),
    (("_KAS_TEST_PAUSE",), "kas", ALL,
     ("For kas's own tests only (tests/README.md): `<point>:<fifo>` makes kas "
      "wait at that point of its run until the test lets it go on. Without an "
      "existing FIFO `<fifo>` nothing happens.")),
    # Terminal and miscellaneous
    (("BB_NUMBER_THREADS", "PARALLEL_MAKE"), "kas, kas-container", BUILD,
     "Passed to bitbake when non-empty."),
    (("SHELL",), "kas, kas-container", "shell",
     "Shell started by `kas shell` (default `/bin/sh`)."),
    (("TERM",), "kas, kas-container", BUILD, "Copied into the build environment."),
    (("TZ",), "kas-container", ALL, "Forwarded into the container."),
    (("NO_COLOR",), "kas, kas-container", ALL,
     "Non-empty: no colored output (like `--no-color`)."),
    (("HOME",), "kas", ALL,
     ("Only for `~/.ssh/config`, `~/.gitconfig` (in a managed CI environment) and "
      "the AWS SSO cache; the commands kas runs get a private HOME.")),
    (("PATH",), "kas", ALL, "Where git, hg, ssh, gpg and bitbake's tools are looked up."),
    (("COLUMNS",), "kas", ALL,
     "Width of help texts and of the `--version` line (default: the terminal's)."),
    # kas-container only
    (("KAS_CONTAINER_ENGINE",), "kas-container", ALL,
     "`docker` or `podman`; unset: detected."),
    (("KAS_DOCKER_ENGINE",), "kas-container", ALL,
     "Deprecated alias of `KAS_CONTAINER_ENGINE`."),
    (("KAS_CONTAINER_IMAGE",), "kas-container", ALL,
     "Full image reference; the four variables below are then ignored."),
    (("KAS_IMAGE_VERSION",), "kas-container", ALL, "Image tag (default: the script's version)."),
    (("KAS_CONTAINER_IMAGE_DISTRO",), "kas-container", ALL,
     "Base distribution suffix of the tag, e.g. `debian-bookworm`."),
    (("KAS_CONTAINER_IMAGE_NAME",), "kas-container", ALL,
     "Image name (default `kas`, `kas-isar` for Isar)."),
    (("KAS_CONTAINER_IMAGE_PATH",), "kas-container", ALL, "Image repository path."),
    (("KAS_CONTAINER_SKIP_PREFLIGHT",), "kas-container", "build, shell, checkout, "
     + CLEAN, "`1`: skip the doctor's checks before the command."),
    (("KAS_SUDO_CMD",), "kas-container", ALL + " in Isar privileged mode",
     "`sudo` or `run0`: how the privileged engine is run."),
    (("KAS_ALLOW_ROOT",), "kas-container", ALL, "`yes`: allow running as root."),
    (("KAS_SSH_DIR", "KAS_AWS_DIR"), "kas-container", ALL,
     "Same as `--ssh-dir` and `--aws-dir`."),
    (("KAS_SSH_AGENT",), "kas-container", ALL, "Non-empty: same as `--ssh-agent`."),
    (("KAS_REPO_MOUNT_OPT",), "kas-container", ALL,
     "`ro` or `rw`: same as `--repo-ro` and `--repo-rw`."),
    (("KAS_NO_PROXY_FROM_ENV",), "kas-container", ALL,
     "Set (even empty): same as `--no-proxy-from-env`."),
    (("KAS_KVM",), "kas-container", ALL, "Non-empty: same as `--kvm`."),
    (("KAS_VERBOSE",), "kas-container", ALL,
     "Non-empty: print debug lines and the engine command (`-l debug` sets it)."),
    (("DOCKER_HOST",), "kas-container", ALL, "Docker endpoint, respected."),
    (("DOCKER_CONTEXT", "DOCKER_CONFIG"), "kas-container",
     "doctor, build, shell, checkout, clean, cleansstate, cleanall, purge",
     ("Docker's context and configuration directory, respected; the checks look for "
      "the daemon at the endpoint of that context (else of `docker context use`'s).")),
    (("KAS_CONTAINER_TEST_ROOT",), "kas-container", "doctor",
     ("For tests only: a directory standing in for the host's root file system "
      "in the doctor's checks.")),
)


def names():
    return {name for entry in VARIABLES for name in entry[0]}
