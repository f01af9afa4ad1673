# bash completion for isensctl. The subcommands, their options and the
# values of {a,b,c} and a|b options are read from isensctl's own --help, so the
# completion cannot fall behind the CLI.

# Prints the words of one section ("Options:" or "Subcommands:") of a help text.
_isensctl_section() {
  awk -v want="$1" '
    /^[A-Za-z].*:$/ { in_section = ($0 == want); next }
    in_section && /^  [^ ]/ { print $1 }'
}

_isensctl() {
  # Plain COMP_WORDS: works without the bash-completion package too.
  local cword=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local -a words=("${COMP_WORDS[@]}")

  local cmd="" i
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      --socket|--log-level) ((i++)) ;;   # global options with a value
      -*) ;;
      *) cmd="${words[i]}"; break ;;
    esac
  done

  local help
  if [[ -n $cmd ]]; then
    help=$("${words[0]}" "$cmd" --help 2>/dev/null)
  else
    help=$("${words[0]}" --help 2>/dev/null)
  fi

  # A value: files for paths, the listed choices for {a,b}, nothing otherwise.
  case "$prev" in
    --socket|--chap-secret-file|--chap-target-secret-file|--config|--nats-password-file|--nats-token-file|--nats-nkey-seed-file|--nats-creds-file|--nats-tls-ca-file|--nats-tls-cert-file|--nats-tls-key-file)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
  esac
  if [[ $prev == --* ]]; then
    local line choices
    line=$(grep -E -- "^  (-[a-z],)?${prev}( |$)" <<<"$help" | head -n 1)
    if [[ $line =~ \{([^}]*)\} ]]; then          # TEXT:{a,b,c}
      choices=${BASH_REMATCH[1]//,/ }
      COMPREPLY=($(compgen -W "$choices" -- "$cur"))
      return
    fi
    if [[ $line =~ :([^ ]+\|[^ ]+) ]]; then        # TEXT:a|b,c|d (a value may hold a comma)
      choices=${BASH_REMATCH[1]//|/ }
      COMPREPLY=($(compgen -W "$choices" -- "$cur"))
      return
    fi
    if [[ $line =~ ^\ \ [^\ ]+\ [A-Z] ]]; then
      return  # an option that takes a value we cannot guess
    fi
  fi

  if [[ $cur == -* || -n $cmd ]]; then
    local opts
    opts=$(_isensctl_section "Options:" <<<"$help" | sed 's/^-h,//')
    COMPREPLY=($(compgen -W "$opts -h" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_isensctl_section "Subcommands:" <<<"$help")" -- "$cur"))
  fi
}
complete -F _isensctl isensctl
