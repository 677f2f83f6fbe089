"""Shell completion generated from the real parser (issue 18.3): the bash
script is run for real in a bash subprocess, the zsh and fish scripts are
syntax-checked (and fish's completions run) when those shells exist, and
kas-container's declarative option list is compared with its --help."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from helpers.run import REPO_ROOT, clean_env

KAS_CONTAINER = os.path.join(REPO_ROOT, "kas-container")


def completion_script(shell):
    proc = subprocess.run([sys.executable, "-m", "kas.completion", shell], check=True,
                          capture_output=True, text=True, env=clean_env(), cwd=REPO_ROOT)
    return proc.stdout


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("completion") / "kas.bash"
    path.write_text(completion_script("bash"))
    return path


@pytest.fixture
def project(tmp_path):
    for name in ("base.yml", "dev.yaml", "lock.json", "notes.txt", "conf/board.yml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    return tmp_path


BASH_DRIVER = r'''
source "$1"
line=$2
COMP_LINE=$line
COMP_POINT=${#line}
# The words as bash splits them, COMP_WORDBREAKS (: and =) included.
read -ra COMP_WORDS <<<"$line"
case $line in *" ") COMP_WORDS+=("") ;; esac
last=${COMP_WORDS[${#COMP_WORDS[@]}-1]}
if [ "$3" = breaks ]; then COMP_WORDS[${#COMP_WORDS[@]}-1]=${last##*[:=]}; fi
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
fn=$(complete -p "${COMP_WORDS[0]}" | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
'''


def bash_complete(script, line, cwd, wordbreaks=True):
    proc = subprocess.run(["bash", "-c", BASH_DRIVER, "bash", str(script), line,
                           "breaks" if wordbreaks else "none"],
                          cwd=cwd, check=True, capture_output=True, text=True)
    return sorted(w for w in proc.stdout.splitlines() if w)


def test_bash_registers_both_programs(bash_script):
    """Issue 18.3: `complete -p` knows kas and kas-container after sourcing."""
    proc = subprocess.run(["bash", "-c", f'source "{bash_script}"; complete -p kas kas-container'],
                          check=True, capture_output=True, text=True)
    assert "_kas_complete kas" in proc.stdout
    assert "_kas_container_complete kas-container" in proc.stdout


def test_bash_commands_options_and_choices(bash_script, project):
    """Issue 18.3: commands, options and choices come from the parser."""
    assert bash_complete(bash_script, "kas ", project) == sorted(
        ["build", "checkout", "clean", "cleansstate", "cleanall", "purge", "diff", "dump",
         "for-all-repos", "lock", "menu", "shell"])
    assert bash_complete(bash_script, "kas dump --f", project) == ["--force-checkout",
                                                                    "--format"]
    assert bash_complete(bash_script, "kas dump --format ", project) == ["json", "yaml"]
    assert bash_complete(bash_script, "kas diff --format ", project) == ["json", "text"]
    assert bash_complete(bash_script, "kas build --skip repos_", project) == [
        "repos_apply_patches", "repos_checkout"]
    assert bash_complete(bash_script, "kas -l d", project) == ["debug"]
    # The value of a global option is not taken for the command.
    assert bash_complete(bash_script, "kas -l debug sh", project) == ["shell"]
    # The hidden, deprecated --inplace is not offered.
    assert "--inplace" not in bash_complete(bash_script, "kas dump -", project)


def test_bash_option_equals_value(bash_script, project):
    """Issue 18.3: --format=<TAB> completes the value after the '='."""
    assert bash_complete(bash_script, "kas dump --format=j", project) == ["json"]


def test_bash_config_files_and_colon_form(bash_script, project):
    """Issue 18.3: config arguments complete to yml/yaml/json files and
    directories, and after a colon to the next file, whether or not ':' is
    a word break for bash."""
    assert bash_complete(bash_script, "kas build ", project) == [
        "base.yml", "conf/", "dev.yaml", "lock.json"]
    assert bash_complete(bash_script, "kas dump base.yml:d", project) == ["dev.yaml"]
    assert bash_complete(bash_script, "kas dump base.yml:d", project,
                         wordbreaks=False) == ["base.yml:dev.yaml"]
    assert bash_complete(bash_script, "kas dump base.yml:conf/", project) == [
        "conf/board.yml"]
    # After the config, build takes bitbake arguments: no more config files.
    assert bash_complete(bash_script, "kas build base.yml -- ", project) == []
    # menu's Kconfig argument is any file.
    assert "notes.txt" in bash_complete(bash_script, "kas menu ", project)


def test_bash_kas_container(bash_script, project):
    """Issue 18.3: kas-container options, doctor, and kas's options after
    the command (without -E, which kas-container refuses)."""
    assert bash_complete(bash_script, "kas-container --isar-r", project) == [
        "--isar-rootless"]
    assert bash_complete(bash_script, "kas-container --ssh-dir co", project) == ["conf/"]
    assert bash_complete(bash_script, "kas-container --kvm d", project) == [
        "diff", "doctor", "dump"]
    assert bash_complete(bash_script, "kas-container doctor --format ", project) == [
        "json", "text"]
    shell_options = bash_complete(bash_script, "kas-container shell -", project)
    assert "--keep-config-unchanged" in shell_options
    assert "--preserve-env" not in shell_options
    assert "--preserve-env" in bash_complete(bash_script, "kas shell -", project)


def test_bash_script_is_shellcheck_clean(bash_script):
    """The generated bash is linted like our other shell code."""
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck not installed")
    proc = subprocess.run(["shellcheck", "-s", "bash", str(bash_script)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh not installed")
def test_zsh_script_syntax(tmp_path):
    """Issue 18.3: the zsh script parses (zsh -n) and defines both programs."""
    script = tmp_path / "kas.zsh"
    script.write_text(completion_script("zsh"))
    subprocess.run(["zsh", "-n", str(script)], check=True)
    text = script.read_text()
    assert "compdef _kas kas" in text
    assert "compdef _kas_container kas-container" in text
    assert "(yaml json)" in text


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh not installed")
def test_zsh_script_loads_under_compinit(tmp_path):
    """Sourcing after compinit registers the completion functions."""
    script = tmp_path / "kas.zsh"
    script.write_text(completion_script("zsh"))
    proc = subprocess.run(
        ["zsh", "-f", "-c", (f'autoload -U compinit && compinit -u -D && source "{script}" '
                            '&& print -r -- $_comps[kas] $_comps[kas-container]')],
        capture_output=True, text=True, check=True, cwd=tmp_path)
    assert proc.stdout.split() == ["_kas", "_kas_container"]


@pytest.mark.skipif(not shutil.which("fish"), reason="fish not installed")
def test_fish_script_syntax_and_completions(tmp_path, project):
    """Issue 18.3: the fish script parses (fish -n) and completes for real
    (`complete -C`), including the a.yml:b.yml form."""
    script = tmp_path / "kas.fish"
    script.write_text(completion_script("fish"))
    subprocess.run(["fish", "-n", str(script)], check=True)

    def fish_complete(line):
        proc = subprocess.run(
            ["fish", "--no-config", "-c", f'source {script}; complete -C "{line}"'],
            capture_output=True, text=True, check=True, cwd=project,
            env=dict(clean_env(), HOME=str(tmp_path)))
        return sorted(line.split("\t")[0] for line in proc.stdout.splitlines())

    assert fish_complete("kas dump --format ") == ["json", "yaml"]
    assert fish_complete("kas dump base.yml:d") == ["base.yml:dev.yaml"]
    assert fish_complete("kas-container doctor --f") == ["--format"]


def container_help():
    proc = subprocess.run(["sh", KAS_CONTAINER, "--help"], check=True,
                          capture_output=True, text=True)
    return proc.stdout


def test_kas_container_list_matches_its_help():
    """Issue 18.3: the declarative kas-container list cannot drift from the
    options and commands `kas-container --help` prints."""
    from kas.completion import programs
    from kas.completion.kas_container import OPTIONS

    text = container_help()
    positional = text.split("Positional arguments:")[1].split("Optional arguments:")[0]
    optional = text.split("Optional arguments:")[1]
    commands = set(re.findall(r"^([a-z][a-z-]*)\s", positional, re.MULTILINE))
    # "-l, --log-level LEVEL   Set log level": flags, then a value name or not.
    help_options = {}
    for line in optional.splitlines():
        match = re.match(r"^(-{1,2}[a-z][a-z-]*(?:, -{1,2}[a-z][a-z-]*)*)( [A-Z]+)?", line)
        if match:
            help_options[tuple(match.group(1).split(", "))] = bool(match.group(2))
    listed = {tuple(option.flags): bool(option.value) for option in OPTIONS}
    assert listed == help_options
    _, container = programs()
    assert {c.name for c in container.commands} == commands


def test_completion_usage_errors():
    """An unknown shell is a usage error (exit 2), not a traceback."""
    proc = subprocess.run([sys.executable, "-m", "kas.completion", "tcsh"],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert proc.returncode == 2
    assert "unknown shell 'tcsh'" in proc.stderr
    assert "Traceback" not in proc.stderr
