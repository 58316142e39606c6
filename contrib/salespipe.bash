# salespipe.bash — bash completion for salespipe: commands, each command's
# options, task names after --from/--only, dates after --ds, files where a
# command takes one. The lists come from the installed binary's own help
# (`salespipe --help`, `salespipe help CMD`), so they never go stale.
# Installed by `make install` into share/bash-completion/completions/salespipe.

_salespipe_commands() {
  "$1" --help 2>/dev/null | awk '/^commands/ {on=1; next} on && /^$/ {exit} on {print $1}'
}

_salespipe_options() { # BIN CMD: the command's options, then the global ones
  "$1" help "$2" 2>/dev/null | awk '/^ +--[a-z]/ {print $1}'
}

_salespipe() {
  local cur prev bin cmd i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  bin=${COMP_WORDS[0]}
  # The command: the first word that is not an option or an option's value.
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --env-file|--log-format) ((i++)) ;;
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  case $prev in
    --env-file|--out) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
    --log-format) mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur"); return ;;
    --only) mapfile -t COMPREPLY < <(compgen -W "preflight stage transform create-tables load" -- "$cur"); return ;;
    --from)
      if [ "$cmd" = run ]; then
        mapfile -t COMPREPLY < <(compgen -W "preflight stage transform create-tables load" -- "$cur")
      fi
      return ;;
    --retry-backoff) mapfile -t COMPREPLY < <(compgen -W "fixed exponential" -- "$cur"); return ;;
    --ds|--to) mapfile -t COMPREPLY < <(compgen -W "$(date -u +%F)" -- "$cur"); return ;;
    --rows|--seed|--head|--retries|--retry-delay|--map|--map-index|--run-id) return ;;
  esac
  if [ -z "$cmd" ]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--env-file --log-format --quiet --verbose --help --version -q -v -h -V" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$(_salespipe_commands "$bin")" -- "$cur")
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_salespipe_options "$bin" "$cmd")" -- "$cur")
    return
  fi
  case $cmd in
    help) mapfile -t COMPREPLY < <(compgen -W "$(_salespipe_commands "$bin")" -- "$cur") ;;
    inspect) mapfile -t COMPREPLY < <(compgen -f -X '!*.parquet' -- "$cur"; compgen -d -- "$cur") ;;
  esac
}
complete -F _salespipe salespipe
