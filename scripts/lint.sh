#!/usr/bin/env bash
# lint.sh — `make lint`: offline checks of the deployment files (Terraform,
# compose, Dockerfile, .env.example, the Kubernetes manifests) and every
# shell script; no Docker engine, no Terraform providers, no network (except
# `npm ci` into tools/lint/node_modules the first time). One line per check,
# "ok", "skip" or "FAIL" followed by what failed; exits 1 on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
failed=0

# check NAME COMMAND…: run COMMAND, print one line, its output only on failure.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "ok    $name"
  else
    echo "FAIL  $name"
    printf '%s\n' "$out" | sed 's/^/      /'
    failed=1
  fi
}

if [ ! -d tools/lint/node_modules ]; then
  if ! npm ci --prefix tools/lint --no-audit --no-fund --loglevel=error >/dev/null; then
    echo "FAIL  npm ci --prefix tools/lint (the linters could not be installed)"
    exit 1
  fi
fi
bin=tools/lint/node_modules/.bin

# Shell scripts: *.sh, plus files starting with a sh/bash shebang (.ci/run).
scripts=()
while IFS= read -r -d '' f; do
  case $f in
    *.sh) scripts+=("$f") ;;
    *) if head -c 64 "$f" 2>/dev/null | head -n 1 | grep -Eq '^#!(/usr/bin/env[[:space:]]+|/bin/|/usr/bin/)(ba|da|k)?sh\b'; then
         scripts+=("$f")
       fi ;;
  esac
done < <(find . \( -name .git -o -name node_modules -o -name build -o -name .terraform \
                   -o -path ./data -o -path ./lake -o -path ./.salespipe \) -prune \
                -o -type f -print0 | sort -z)

check "infra/: every .tf parses as HCL, references resolve" node tools/lint/check-hcl.mjs infra
if command -v terraform >/dev/null 2>&1; then
  check "infra/: terraform fmt" terraform fmt -check -recursive -diff infra
else
  echo "skip  infra/: terraform fmt (terraform not installed)"
fi
check "docker-compose.yml: YAML, references only what it defines" node tools/lint/check-compose.mjs docker-compose.yml
check "Dockerfile: dockerfilelint" "$bin/dockerfilelint" Dockerfile
check ".env.example: complete and commented" node tools/lint/check-env.mjs
check "deploy/k8s/: manifests parse, references resolve, salespipe commands exist" node tools/lint/check-k8s.mjs deploy/k8s
if command -v shellcheck >/dev/null 2>&1; then
  check "shellcheck: ${#scripts[@]} scripts" shellcheck "${scripts[@]}"
else
  echo "FAIL  shellcheck is not installed (make deps)"
  failed=1
fi
exit $failed
