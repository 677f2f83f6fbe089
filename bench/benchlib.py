"""Shared by the bench scripts: what our kas is compared with, and timing.

Every workload runs our kas and a reference kas in alternation, round by
round, so both see the same machine load (the machine is shared); the
figures printed are medians of the rounds, and the ratio is the median of
the per-round ratios ours / reference.

The reference is ``--reference CMD`` (e.g. kas 5.5 installed in a scratch
venv: ``--reference /path/to/kas55/bin/kas``) or, without it, the kas of an
earlier commit (``--base REF``, default ``HEAD~``), exported from git into a
temporary directory and run with this interpreter.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_kas() -> str | None:
    candidate = os.path.join(os.path.dirname(sys.executable), "kas")
    return candidate if os.path.exists(candidate) else shutil.which("kas")


def add_compare_options(parser) -> None:
    parser.add_argument("--kas", action="append", metavar="CMD",
                        help="a kas to measure (repeatable; git:REF is the kas of "
                             "commit REF; default: the one next to this interpreter)")
    parser.add_argument("--reference", metavar="CMD",
                        help="the kas to compare with, e.g. kas 5.5 in a scratch venv "
                             "(default: git:BASE)")
    parser.add_argument("--base", default="HEAD~", metavar="REF",
                        help="without --reference: compare with the kas of this commit "
                             "(default: HEAD~)")


def bench_env() -> dict[str, str]:
    """The caller's environment without kas settings, and with byte-code
    caching on: installed programs have their .pyc files, so a developer
    shell's PYTHONDONTWRITEBYTECODE must not make us compile on every run."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("KAS_") and k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Kas:
    argv: list[str]
    label: str


def commands(args, tmp: str) -> tuple[Kas, list[Kas]]:
    """The reference kas and the ones measured against it."""
    reference = resolve(args.reference or f"git:{args.base}", tmp)
    ours = [resolve(spec, tmp) for spec in (args.kas or [default_kas()])]
    warm_up(reference, *ours)
    return reference, ours


def resolve(spec: str | None, tmp: str) -> Kas:
    if not spec:
        sys.exit("kas not found: install the project first")
    if spec.startswith("git:"):
        return exported_kas(spec[len("git:"):], tmp)
    if os.path.exists(spec):
        spec = os.path.abspath(spec)
    version = subprocess.run([spec, "--version"], capture_output=True, text=True,
                             env=bench_env(), check=False).stdout.split(" (")[0].strip()
    return Kas([spec], f"{version} ({spec})" if version else spec)


def exported_kas(ref: str, tmp: str) -> Kas:
    """The kas of commit ``ref``, exported from git, run by this interpreter
    as an installed kas would run: with this venv's site-packages on the
    path, but without processing its .pth files (-S).  An editable
    install's .pth finder costs some 20 ms at every start, which an
    installed kas never pays; a regular venv's site processing (the
    reference's) costs about 5 ms."""
    import sysconfig

    sha = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "--short", ref],
                         check=True, capture_output=True, text=True).stdout.strip()
    tree = os.path.join(tmp, f"tree-{sha}")
    # Named kas, as installed: the name is part of some output (--version).
    launcher = os.path.join(tmp, f"bin-{sha}", "kas")
    if not os.path.exists(launcher):
        os.makedirs(tree)
        os.makedirs(os.path.dirname(launcher))
        archive = subprocess.run(["git", "-C", REPO_ROOT, "archive", sha, "kas"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        # Byte code as an installed kas has it: compiling in a measured run
        # would cost time and, more, memory.
        subprocess.run([sys.executable, "-m", "compileall", "-q", tree], check=True,
                       stdout=subprocess.DEVNULL)
        site_packages = sysconfig.get_paths()["purelib"]
        with open(launcher, "w") as f:
            f.write(f"#!{sys.executable} -S\nimport sys\nsys.path.insert(0, {tree!r})\n"
                    f"sys.path.append({site_packages!r})\n"
                    "try:\n    from kas.entry import main\n"
                    "except ImportError:\n    from kas.cli import main\n"
                    "sys.exit(main())\n")
        os.chmod(launcher, 0o755)
    return Kas([launcher], f"{ref} ({sha}, exported)")


def warm_up(*commands: Kas) -> None:
    """One run each, so byte code is cached before anything is timed."""
    for command in commands:
        subprocess.run([*command.argv, "--version"], env=bench_env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)


@dataclass
class Sample:
    wall: float
    cpu: float      # user + system of the process and its children
    rss: float      # peak resident set of the process itself (MiB)


def run(argv: list[str], cwd: str, env: dict[str, str] | None = None) -> Sample:
    """Run one command to completion; exits the bench if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env or bench_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed in {cwd}:\n{stderr}")
    return Sample(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def rotated(items: list, index: int) -> list:
    """``items`` starting at a different one each round, so nobody always
    runs on the caches another one just warmed."""
    shift = index % len(items)
    return items[shift:] + items[:shift]


@dataclass
class Workload:
    """One workload: per round, one sample of the reference and of each
    measured kas (in the order of ``commands``)."""

    label: str
    target: float | None = None
    rounds: list[list[Sample]] = field(default_factory=list)

    def measure(self, kases: list[Kas], argv: list[str], cwds: list[str], index: int,
                before=None, argvs_of: list[list[str]] | None = None) -> None:
        """One round: ``kases[i]`` runs ``argv`` (or ``argvs_of[i]``) in
        ``cwds[i]``, after ``before()`` if given."""
        samples: list[Sample | None] = [None] * len(kases)
        for i in rotated(list(range(len(kases))), index):
            if before is not None:
                before()
            samples[i] = run([*kases[i].argv, *(argvs_of[i] if argvs_of else argv)], cwds[i])
        self.rounds.append(samples)

    def median(self, i: int, what: str = "wall") -> float:
        return statistics.median(getattr(r[i], what) for r in self.rounds)

    def ratio(self, i: int, what: str = "wall") -> float:
        """Median over the rounds of kas ``i`` / the reference (index 0)."""
        return statistics.median(getattr(r[i], what) / max(getattr(r[0], what), 1e-9)
                                 for r in self.rounds)

    def peak_rss(self, i: int) -> float:
        return max(r[i].rss for r in self.rounds)


LABEL_WIDTH = 44


def print_header(kases: list[Kas]) -> None:
    print(f"reference: {kases[0].label}; " + "; ".join(
        f"[{n}] {k.label}" for n, k in enumerate(kases[1:], 1)))
    print(f"{'workload':<{LABEL_WIDTH}} kas {'time':>9} {'reference':>10} {'ratio':>6} "
          f"{'CPU ratio':>9}  target", flush=True)



def verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"<= {target:.2f}" + ("  ok" if ratio <= target else "  MISSED")


def print_workload(work: Workload, kases: list[Kas]) -> None:
    for i in range(1, len(kases)):
        label = work.label if i == 1 else ""
        ratio = work.ratio(i)
        print(f"{label:<{LABEL_WIDTH}} [{i}] {work.median(i):7.3f} s {work.median(0):8.3f} s "
              f"{ratio:6.2f} {work.ratio(i, 'cpu'):9.2f}  {verdict(ratio, work.target)}",
              flush=True)


def print_rss(label: str, works: list[Workload], kases: list[Kas],
              target: float | None) -> None:
    """The highest peak RSS of each kas over ``works``."""
    ref = max(w.peak_rss(0) for w in works)
    for i in range(1, len(kases)):
        ours = max(w.peak_rss(i) for w in works)
        ratio = ours / max(ref, 1e-9)
        print(f"{label if i == 1 else '':<{LABEL_WIDTH}} [{i}] {ours:5.1f} MiB {ref:6.1f} MiB "
              f"{ratio:6.2f} {'':>9}  {verdict(ratio, target)}", flush=True)
