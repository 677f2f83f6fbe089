"""Real host conditions in a namespace (issue 20 tests): run a root shell
script in a new user and mount namespace that maps every id to itself, so
the script can change what the kernel shows (user.max_user_namespaces, a
private binfmt_misc instance, mounts over device nodes) and then switch to
a test user with ``runuser``, whose ids and /etc/subuid stay the real ones.

Needs root (only root may map all ids); ``python3 tests/helpers/ns.py ARGV``.
"""

import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
HELPER = os.path.abspath(__file__)


def run_in_identity_namespace(argv):
    """Exec ``argv`` in a new user+mount namespace mapping all ids 1:1;
    returns its exit status.  The parent writes the maps (a process inside
    has no CAP_SETUID in the parent namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(ready_r)
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            os._exit(125)
        os.write(ready_w, b"x")
        os.read(go_r, 1)
        os.execvp(argv[0], argv)
    os.close(go_r)
    os.close(ready_w)
    if os.read(ready_r, 1) == b"x":
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write("0 0 4294967295\n")
    os.write(go_w, b"x")
    os.close(go_w)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(run_in_identity_namespace(sys.argv[1:]))
