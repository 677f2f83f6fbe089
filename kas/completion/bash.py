"""The bash completion script.

The command line up to the cursor is split at blanks by the script itself:
COMP_WORDS would be split at ``:`` and ``=`` too (COMP_WORDBREAKS), which
breaks ``a.yml:b.yml`` into three words.  The candidates are whole words;
the part bash does not replace is cut off them at the end.
"""

from kas.completion.model import CHOICE, CONFIG, DIR, FILE

COMMON = r'''
# Files for a config argument; after a colon (a.yml:b.yml) the next file.
_kas_config_candidates() {
    local word=$1 head="" tail=$1 f
    case $word in
    *:*) head=${word%:*}:; tail=${word##*:} ;;
    esac
    for f in $(compgen -d -- "$tail"); do printf '%s\n' "$head$f/"; done
    for f in $(compgen -f -- "$tail"); do
        [ -d "$f" ] && continue
        case $f in *.yml | *.yaml | *.json) printf '%s\n' "$head$f" ;; esac
    done
}

_kas_file_candidates() {
    local f
    for f in $(compgen -f -- "$1"); do
        if [ -d "$f" ]; then printf '%s\n' "$f/"; else printf '%s\n' "$f"; fi
    done
}

_kas_dir_candidates() {
    local f
    for f in $(compgen -d -- "$1"); do printf '%s\n' "$f/"; done
}

# $1: the whole word at the cursor; the candidates are read from stdin.
_kas_reply() {
    local word=$1 cur=${COMP_WORDS[COMP_CWORD]} strip candidate
    # bash replaces only the text after the last word break (: or =).
    case $word in
    *"$cur") strip=${word:0:${#word}-${#cur}} ;;
    *) strip="" ;;
    esac
    COMPREPLY=()
    while IFS= read -r candidate; do
        [ "${candidate#"$strip"}" != "$candidate" ] || [ -z "$strip" ] || continue
        COMPREPLY+=("${candidate#"$strip"}")
    done
    if [ ${#COMPREPLY[@]} = 1 ]; then
        case ${COMPREPLY[0]} in
        */ | *=) compopt -o nospace 2>/dev/null ;;
        esac
    fi
    return 0
}

_kas_words() {
    local f
    for f in $1; do
        case $f in "$2"*) printf '%s\n' "$f" ;; esac
    done
}

# $1: program, $2: command, $3: the word at the cursor, $4: its kind.
_kas_complete_value() {
    local word=$3 prefix=""
    case $word in
    --*=*) prefix=${word%%=*}=; word=${word#*=} ;;
    esac
    case $4 in
    config) _kas_config_candidates "$word" ;;
    file) _kas_file_candidates "$word" ;;
    dir) _kas_dir_candidates "$word" ;;
    choice:*) _kas_words "${4#choice:}" "$word" ;;
    esac | sed "s|^|$prefix|"
}

# $1: program (the name of its data functions).
_kas_complete_program() {
    local prog=$1 line word cmd="" npos=0 rest=0 want="" kind i
    local -a words
    COMPREPLY=()
    line=${COMP_LINE:0:COMP_POINT}
    read -ra words <<<"$line"
    case $line in
    *[[:blank:]]) words+=("") ;;
    esac
    word=${words[${#words[@]}-1]}
    for ((i = 1; i < ${#words[@]} - 1; i++)); do
        if [ -n "$want" ]; then want=""; continue; fi
        case ${words[i]} in
        --)
            [ -n "$cmd" ] && rest=1 ;;
        --*=*) ;;
        -*)
            want=$("_${prog}_value_kind" "$cmd" "${words[i]}") ;;
        *)
            if [ -z "$cmd" ]; then cmd=${words[i]}; else npos=$((npos + 1)); fi ;;
        esac
        [ $rest = 0 ] || break
    done
    [ $rest = 0 ] || return 0
    if [ -n "$want" ]; then
        _kas_reply "$word" < <(_kas_complete_value "$prog" "$cmd" "$word" "$want")
    elif [ "${word#--*=}" != "$word" ]; then
        kind=$("_${prog}_value_kind" "$cmd" "${word%%=*}")
        _kas_reply "$word" < <(_kas_complete_value "$prog" "$cmd" "$word" "$kind")
    elif [ "${word#-}" != "$word" ]; then
        _kas_reply "$word" < <(_kas_words "$("_${prog}_options" "$cmd")" "$word")
    elif [ -z "$cmd" ]; then
        _kas_reply "$word" < <(_kas_words "$("_${prog}_commands")" "$word")
    else
        kind=$("_${prog}_positional_kind" "$cmd" "$npos")
        _kas_reply "$word" < <(_kas_complete_value "$prog" "$cmd" "$word" "$kind")
    fi
}
'''


def _ident(name):
    return name.replace("-", "_")


def _value_kind(option):
    if option.value == CHOICE:
        return "choice:" + " ".join(option.choices)
    if option.value in (CONFIG, FILE, DIR):
        return option.value
    return "text"


def _case(branches, default):
    lines = ["    case $1 in"]
    for pattern, body in branches:
        lines.append(f"    {pattern}) {body} ;;")
    lines.append(f"    *) {default} ;;")
    lines.append("    esac")
    return "\n".join(lines)


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def _program_functions(program):
    ident = _ident(program.name)
    scopes = [("", program.options)] + [(c.name, c.options) for c in program.commands]
    kinds, option_words, positional = [], [], []
    for scope, options in scopes:
        pattern = _quote(scope) if scope else '""'
        value_options = [o for o in options if o.value]
        if value_options:
            inner = _case([("|".join(o.flags), f"echo {_quote(_value_kind(o))}")
                           for o in value_options], ":").replace("$1", "$2")
            kinds.append((pattern, "\n" + _indent(inner) + "\n       "))
        words = " ".join(f for o in options for f in o.flags)
        option_words.append((pattern, f"echo {_quote(words)}"))
    for command in program.commands:
        branches = [(str(i), f"echo {p.kind}") for i, p in enumerate(command.positionals)]
        if branches:
            inner = _case(branches, ":").replace("$1", "$2")
            positional.append((_quote(command.name), "\n" + _indent(inner) + "\n       "))
    commands = " ".join(c.name for c in program.commands)
    return "\n".join([
        f"_{ident}_value_kind() {{", _case(kinds, ":"), "}", "",
        f"_{ident}_options() {{", _case(option_words, ":"), "}", "",
        f"_{ident}_positional_kind() {{", _case(positional, ":"), "}", "",
        f"_{ident}_commands() {{", f"    echo {_quote(commands)}", "}", "",
        f"_{ident}_complete() {{", f"    _kas_complete_program {ident}", "}", "",
        f"complete -F _{ident}_complete {program.name}", ""])


def _indent(text):
    return "\n".join("    " + line for line in text.splitlines())


def render(programs):
    head = ("# bash completion for " + " and ".join(p.name for p in programs)
            + ", generated by python3 -m kas.completion bash\n"
            "# from the command line parser: regenerate it after an update.\n"
            )
    return head + COMMON + "\n" + "\n".join(_program_functions(p) for p in programs)
