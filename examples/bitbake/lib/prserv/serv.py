"""Stand-in: no PR server, as when PRSERV_HOST is unset (auto_start gives None)."""


class PRServiceConfigError(Exception):
    pass


def auto_start(d):
    if d.getVar("PRSERV_HOST"):
        raise PRServiceConfigError("PR service is not available in this bitbake")


def auto_shutdown():
    pass
