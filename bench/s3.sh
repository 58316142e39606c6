#!/usr/bin/env bash
# s3.sh — the S3 transfer benchmark (`make bench` runs it when executable):
# starts the test harness (tests/s3/server.sh: s3rver behind the SigV4-checking
# proxy, on loopback), then uploads and downloads one large file (256 MiB;
# BENCH_S3_MB overrides) through our client (build/store_cp: the store
# interface the pipeline uses; multipart, SHA-256 + MD5 per part) and through
# `curl --aws-sigv4` (one PUT, one GET) on the same endpoint in the same run,
# and prints MB/s side by side with peak RSS; also our upload as one PUT, to
# separate the client's cost from the server's multipart assembly. A benchmark: it asserts only
# that the bytes came back identical.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BENCH_S3_MB:-256}
cp_tool=$(pwd)/build/store_cp
TIME=/usr/bin/time
[ -x "$cp_tool" ] || { echo "s3 bench: build/store_cp missing (make tools)"; exit 1; }
[ -x "$TIME" ] || { echo "s3 bench: GNU time missing (make deps installs 'time')"; exit 1; }
tmp=$(mktemp -d)
cleanup() {
  tests/s3/server.sh stop "$tmp/srv" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/srv"
S3_TEST_WATCH_PID=$$ tests/s3/server.sh start "$tmp/srv" >"$tmp/start.log" 2>&1 ||
  { echo "s3 bench: the harness did not start: $(tail -3 "$tmp/start.log")"; exit 1; }
set -a
# shellcheck disable=SC1091
. "$tmp/srv/env"
set +a
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL S3_ENDPOINT_URL S3_PART_SIZE_MB
export AWS_ENDPOINT_URL_S3=$S3_TEST_ENDPOINT HOME=$tmp
bytes=$((mb << 20))
head -c "$bytes" /dev/urandom >"$tmp/file"
sync

rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%8.1f", (s > 0 ? b / 1e6 / s : 0) }'; }
timed() { # OUT CMD… → "seconds peak_kb" into OUT
  local out=$1
  shift
  "$TIME" -f '%e %M' -o "$out" "$@"
}

echo
echo "== S3 transfer benchmark: $mb MiB through the harness proxy at $S3_TEST_ENDPOINT ($(nproc) cores)"
timed "$tmp/t1" "$cp_tool" put s3://raw bench/ours.bin "$tmp/file"
timed "$tmp/t2" "$cp_tool" get s3://raw bench/ours.bin "$tmp/ours.back"
# The same upload as one PUT (a part size above the file): the client's own
# cost, without the server's multipart assembly.
S3_PART_SIZE_MB=$((mb + 1)) timed "$tmp/t5" "$cp_tool" put s3://raw bench/ours1.bin "$tmp/file"
cmp "$tmp/file" "$tmp/ours.back"
rm -f "$tmp/ours.back"

sigv4=(--aws-sigv4 "aws:amz:${AWS_REGION}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
t0=$(date +%s.%N)
sha=$(sha256sum "$tmp/file" | cut -d' ' -f1)
t1=$(date +%s.%N)
hash_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
timed "$tmp/t3" curl -sS --fail -o /dev/null "${sigv4[@]}" -H "x-amz-content-sha256: $sha" \
  -T "$tmp/file" "$S3_TEST_ENDPOINT/raw/bench/curl.bin"
empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
timed "$tmp/t4" curl -sS --fail -o "$tmp/curl.back" "${sigv4[@]}" -H "x-amz-content-sha256: $empty" \
  "$S3_TEST_ENDPOINT/raw/bench/curl.bin"
cmp "$tmp/file" "$tmp/curl.back"

read -r up_s up_kb <"$tmp/t1"
read -r down_s down_kb <"$tmp/t2"
read -r cup_s cup_kb <"$tmp/t3"
read -r cdown_s cdown_kb <"$tmp/t4"
read -r one_s one_kb <"$tmp/t5"
printf '%-44s %8s %8s %10s\n' "client" "seconds" "MB/s" "peak RSS"
printf '%-44s %8s %s %7d KB\n' "salespipe upload (hash pass + multipart)" "$up_s" "$(rate "$up_s")" "$up_kb"
printf '%-44s %8s %s %7d KB\n' "salespipe upload (hash pass + one PUT)" "$one_s" "$(rate "$one_s")" "$one_kb"
printf '%-44s %8s %s %7d KB\n' "curl --aws-sigv4 upload (one PUT)" "$cup_s" "$(rate "$cup_s")" "$cup_kb"
printf '%-44s %8s %s %7s\n' "  (+ sha256sum for curl's payload hash)" "$hash_s" "" ""
printf '%-44s %8s %s %7d KB\n' "salespipe download (SHA-256 checked)" "$down_s" "$(rate "$down_s")" "$down_kb"
printf '%-44s %8s %s %7d KB\n' "curl --aws-sigv4 download" "$cdown_s" "$(rate "$cdown_s")" "$cdown_kb"
echo "RESULT s3 mb=$mb up_s=$up_s down_s=$down_s curl_up_s=$cup_s curl_down_s=$cdown_s curl_hash_s=$hash_s one_put_s=$one_s up_rss_kb=$up_kb down_rss_kb=$down_kb"
