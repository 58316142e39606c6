#!/bin/sh
# export_tf_vars.sh — make .env the input of Terraform (infra/). Source it:
#   . ./export_tf_vars.sh [ENV_FILE]        (bash, zsh, ksh)
#   ENV_FILE=path . ./export_tf_vars.sh     (also dash, whose `.` drops arguments)
# Each NAME=value line with a non-empty value becomes TF_VAR_<name in lower
# case> (PROJECT_NAME -> TF_VAR_project_name); Terraform ignores the ones
# infra/ does not declare. The AWS keys (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) are different: they are exported
# under their own names, which the AWS provider reads, never as TF_VAR_*, and
# not at all when AWS_PROFILE is set (in the environment or the file), so the
# profile is what Terraform uses; keys already in the environment are kept.
# AWS_DEFAULT_REGION stands in for an empty AWS_REGION. Prints names, never
# values. Changes nothing but exported variables; leaves no helpers behind.

_etv_file=${1:-${ENV_FILE:-.env}}
_etv_cr=$(printf '\r')

# _etv_parse LINE: sets _etv_name and _etv_value from a NAME=value line, as
# salespipe reads .env ("export " prefix, '…' or "…" quotes, " #" comments).
# Returns 1 for blank, comment and malformed lines.
_etv_parse() {
  _etv_line=${1%"$_etv_cr"}
  _etv_line=${_etv_line#"${_etv_line%%[![:space:]]*}"}
  case $_etv_line in
    '' | '#'*) return 1 ;;
    'export '*) _etv_line=${_etv_line#export } ;;
  esac
  case $_etv_line in *=*) ;; *) return 1 ;; esac
  _etv_name=${_etv_line%%=*}
  _etv_name=${_etv_name#"${_etv_name%%[![:space:]]*}"}
  _etv_name=${_etv_name%"${_etv_name##*[![:space:]]}"}
  case $_etv_name in '' | [0-9]* | *[!A-Za-z0-9_]*) return 1 ;; esac
  _etv_value=${_etv_line#*=}
  _etv_value=${_etv_value#"${_etv_value%%[![:space:]]*}"}
  case $_etv_value in
    \"*)
      _etv_value=${_etv_value#\"}
      case $_etv_value in *\"*) _etv_value=${_etv_value%%\"*} ;; *) return 1 ;; esac
      ;;
    \'*)
      _etv_value=${_etv_value#\'}
      case $_etv_value in *\'*) _etv_value=${_etv_value%%\'*} ;; *) return 1 ;; esac
      ;;
    '#'*) _etv_value= ;;
    *)
      _etv_value=${_etv_value%%[[:space:]]#*}
      _etv_value=${_etv_value%"${_etv_value##*[![:space:]]}"}
      ;;
  esac
  return 0
}

_etv_main() {
  if [ ! -f "$_etv_file" ] || [ ! -r "$_etv_file" ]; then
    echo "export_tf_vars: cannot read $_etv_file (copy .env.example to .env, or name a file)" >&2
    return 1
  fi
  # AWS_PROFILE may come from the environment or from the file.
  _etv_profile=${AWS_PROFILE:-}
  _etv_region=
  while IFS= read -r _etv_raw || [ -n "$_etv_raw" ]; do
    _etv_parse "$_etv_raw" || continue
    case $_etv_name in
      AWS_PROFILE) [ -n "$_etv_value" ] && _etv_profile=$_etv_value ;;
      AWS_DEFAULT_REGION) _etv_region=$_etv_value ;;
    esac
  done <"$_etv_file"

  _etv_count=0
  _etv_keys=
  _etv_skipped=
  _etv_have_region=
  while IFS= read -r _etv_raw || [ -n "$_etv_raw" ]; do
    _etv_parse "$_etv_raw" || continue
    [ -n "$_etv_value" ] || continue
    case $_etv_name in
      AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN)
        if [ -n "$_etv_profile" ]; then
          _etv_skipped="$_etv_skipped $_etv_name"
        elif eval "[ -n \"\${$_etv_name:-}\" ]"; then
          _etv_skipped="$_etv_skipped $_etv_name"
        else
          export "$_etv_name=$_etv_value"
          _etv_keys="$_etv_keys $_etv_name"
        fi
        continue
        ;;
      AWS_REGION) _etv_have_region=1 ;;
    esac
    _etv_lower=$(printf '%s' "$_etv_name" | tr '[:upper:]' '[:lower:]')
    export "TF_VAR_$_etv_lower=$_etv_value"
    _etv_count=$((_etv_count + 1))
  done <"$_etv_file"
  if [ -z "$_etv_have_region" ] && [ -n "$_etv_region" ]; then
    export "TF_VAR_aws_region=$_etv_region"
    _etv_count=$((_etv_count + 1))
  fi

  echo "export_tf_vars: $_etv_count TF_VAR_* variables from $_etv_file" >&2
  if [ -n "$_etv_keys" ]; then
    echo "export_tf_vars: exported AWS keys for the provider:$_etv_keys" >&2
  fi
  if [ -n "$_etv_skipped" ]; then
    if [ -n "$_etv_profile" ]; then
      echo "export_tf_vars: AWS_PROFILE is set, skipped:$_etv_skipped" >&2
    else
      echo "export_tf_vars: already in the environment, kept:$_etv_skipped" >&2
    fi
  fi
  return 0
}

_etv_status=0
_etv_main || _etv_status=$?

# Run as a program, the exports would die with this process. zsh sets $0 to
# the sourced file, so the check is skipped there.
if [ -z "${ZSH_VERSION:-}" ] && [ "${0##*/}" = export_tf_vars.sh ]; then
  echo "export_tf_vars: run as a program, it changes nothing; source it: . ./export_tf_vars.sh" >&2
fi

unset _etv_file _etv_cr _etv_line _etv_name _etv_value _etv_raw _etv_profile _etv_region \
  _etv_count _etv_keys _etv_skipped _etv_have_region _etv_lower
unset -f _etv_parse _etv_main
# `return` ends a sourced file; run as a program, it fails and `exit` ends it.
eval "unset _etv_status; return $_etv_status 2>/dev/null || exit $_etv_status"
