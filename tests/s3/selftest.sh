#!/usr/bin/env bash
# selftest.sh — proves the S3 harness itself (tests/s3): starts it in a temp
# directory, drives it with an independent client (curl --aws-sigv4) for the
# object calls, signature and payload errors and faults, then runs
# selftest.mjs (AWS's SigV4 vectors, multipart rules, abort). One line per
# check, ending with "N passed, N failed"; exits 1 on any failure. It stops
# the harness and removes its temp directory whatever happens.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/s3-selftest.XXXXXX") || exit 1
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  "$here/server.sh" stop "$tmp/h" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok    $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1${2:+: $2}"; failed=$((failed + 1)); }
# expect NAME WANT GOT: one check, WANT and GOT compared as strings.
expect() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "want '$2', got '$3'"; fi; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

# Two keys: ours, and one that needs a session token (selftest.mjs uses it).
export PROXY_KEYS="S3RVER:S3RVER,TOKENKEY:TOKENSECRET:TOKEN1"
if ! S3_TEST_WATCH_PID=$$ "$here/server.sh" start "$tmp/h" >"$tmp/start.log" 2>&1; then
  fail "server.sh start" "$(cat "$tmp/start.log")"
  finish
fi
ok "server.sh start: both servers answer"
set -a
# shellcheck source=/dev/null
. "$tmp/h/env"
set +a
for v in S3_TEST_ENDPOINT S3_TEST_BACKEND S3_TEST_ADMIN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION; do
  [ -n "${!v:-}" ] || fail "DIR/env sets $v"
done

empty=$(printf '' | sha256sum | cut -c1-64)
# s3 SECRET CURL-ARGS…: a curl call signed by curl itself, status and body to
# $tmp/out; prints the status. curl signs path and query as written, so the
# URLs below are written canonical (encoded, sorted).
s3() {
  local secret=$1
  shift
  curl -s -o "$tmp/out" -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "S3RVER:$secret" "$@"
}
s3code() { sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' "$tmp/out"; }
admin() { curl -s --max-time 5 "$@"; }

# ---- objects --------------------------------------------------------------
printf 'id,amount\n1,2.50\n' >"$tmp/body"
body_sha=$(sha256sum "$tmp/body" | cut -c1-64)
key="runs/2024-01-01/a%20b%3Dc%2Bd%C3%A9.csv" # "a b=c+dé.csv"
expect "PUT an object whose key has a space, '=', '+', 'é'" 200 \
  "$(s3 S3RVER -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/$key")"
code=$(s3 S3RVER -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/$key")
if [ "$code" = 200 ] && cmp -s "$tmp/out" "$tmp/body"; then ok "GET it back, byte-identical"; else fail "GET it back" "status $code"; fi
expect "HEAD it: 200" 200 "$(s3 S3RVER -I -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/$key")"
expect "s3rver behind the proxy has it under the decoded key" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "$S3_TEST_BACKEND/raw/$key")"
code=$(s3 S3RVER -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw?list-type=2&prefix=runs%2F")
if [ "$code" = 200 ] && grep -q '<Key>runs/2024-01-01/a b=c+dé.csv</Key>' "$tmp/out"; then
  ok "ListObjectsV2 with a prefix lists it"
else
  fail "ListObjectsV2 with a prefix" "status $code: $(head -c 300 "$tmp/out")"
fi
expect "DELETE it: 204" 204 "$(s3 S3RVER -X DELETE -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/$key")"
s3 S3RVER -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/$key" >/dev/null
expect "GET after DELETE: NoSuchKey" NoSuchKey "$(s3code)"

# Ranges (s3rver alone gets suffix ranges and "0-0" wrong; the proxy serves
# single ranges itself).
printf '0123456789abcdef' >"$tmp/hex"
s3 S3RVER -T "$tmp/hex" -H "x-amz-content-sha256: $(sha256sum "$tmp/hex" | cut -c1-64)" "$S3_TEST_ENDPOINT/raw/hex" >/dev/null
for case in "bytes=-4 206 cdef" "bytes=0-0 206 0" "bytes=10- 206 abcdef" "bytes=2-5 206 2345" "bytes=-100 206 0123456789abcdef"; do
  read -r range want_code want_body <<<"$case"
  code=$(s3 S3RVER -H "Range: $range" -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/hex")
  expect "GET Range: $range" "$want_code $want_body" "$code $(cat "$tmp/out")"
done
code=$(s3 S3RVER -H "Range: bytes=16-" -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/hex")
expect "GET Range past the end: 416 InvalidRange" "416 InvalidRange" "$code $(s3code)"

# ---- what the proxy refuses -------------------------------------------------
code=$(s3 WRONG -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/x.csv")
expect "wrong secret: 403 SignatureDoesNotMatch" "403 SignatureDoesNotMatch" "$code $(s3code)"
if grep -q '<CanonicalRequest>' "$tmp/out"; then ok "  … with the CanonicalRequest in the body"; else fail "  … with the CanonicalRequest in the body"; fi
code=$(s3 S3RVER -T "$tmp/body" -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/x.csv")
expect "payload hash of another body: 400 XAmzContentSHA256Mismatch" "400 XAmzContentSHA256Mismatch" "$code $(s3code)"
code=$(s3 S3RVER -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/a=b.csv")
expect "'=' sent raw but signed as sent (not %3D): 403 SignatureDoesNotMatch" "403 SignatureDoesNotMatch" "$code $(s3code)"
code=$(curl -s -o "$tmp/out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "NOBODY:S3RVER" \
  -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/x.csv")
expect "unknown access key: 403 InvalidAccessKeyId" "403 InvalidAccessKeyId" "$code $(s3code)"
code=$(curl -s -o "$tmp/out" -w '%{http_code}' "$S3_TEST_ENDPOINT/raw/x.csv")
expect "no Authorization: 403 AccessDenied" "403 AccessDenied" "$code $(s3code)"
code=$(s3 S3RVER -H "Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==" -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/x.csv")
expect "wrong Content-MD5: 400 BadDigest" "400 BadDigest" "$code $(s3code)"
md5=$(openssl dgst -md5 -binary "$tmp/body" | base64)
expect "right Content-MD5: 200" 200 \
  "$(s3 S3RVER -H "Content-MD5: $md5" -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/x.csv")"
sum=$(openssl dgst -sha256 -binary "$tmp/body" | base64)
expect "right x-amz-checksum-sha256: 200" 200 \
  "$(s3 S3RVER -H "x-amz-checksum-sha256: $sum" -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/x.csv")"
code=$(s3 S3RVER -H "x-amz-checksum-sha256: $(printf x | openssl dgst -sha256 -binary | base64)" -T "$tmp/body" \
  -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/x.csv")
expect "wrong x-amz-checksum-sha256: 400 BadDigest" "400 BadDigest" "$code $(s3code)"

# A 2 MiB upload with a wrong secret: curl waits on "Expect: 100-continue",
# the proxy refuses before the body is sent.
head -c $((2 * 1024 * 1024)) /dev/zero >"$tmp/big"
big_sha=$(sha256sum "$tmp/big" | cut -c1-64)
admin -X DELETE "$S3_TEST_ADMIN/log" >/dev/null
code=$(s3 WRONG -T "$tmp/big" -H "x-amz-content-sha256: $big_sha" "$S3_TEST_ENDPOINT/raw/big.bin")
bytes=$(admin "$S3_TEST_ADMIN/log" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].bytes))')
expect "wrong secret on a 2 MiB PUT: 403 before the body (proxy read 0 bytes)" "403 0" "$code $bytes"
expect "the same PUT, signed right: 200" 200 "$(s3 S3RVER -T "$tmp/big" -H "x-amz-content-sha256: $big_sha" "$S3_TEST_ENDPOINT/raw/big.bin")"

# ---- faults ---------------------------------------------------------------
fault() { admin -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$S3_TEST_ADMIN/faults"; }
expect "POST /__admin/faults: 201" 201 "$(fault '{"method":"PUT","path":"^/raw/f503","action":"503","count":1}')"
code=$(s3 S3RVER -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/f503.csv")
expect "fault 503: the first PUT gets 503 ServiceUnavailable" "503 ServiceUnavailable" "$code $(s3code)"
expect "fault 503: the retry succeeds" 200 "$(s3 S3RVER -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/f503.csv")"
fault '{"method":"GET","path":"^/raw/slow","action":"slowdown","after":1,"count":2}' >/dev/null
codes=""
for _ in 1 2 3 4; do
  codes="$codes $(s3 S3RVER -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/slow")$(s3code)"
done
expect "fault slowdown after 1 count 2: pass, SlowDown, SlowDown, pass" " 404NoSuchKey 503SlowDown 503SlowDown 404NoSuchKey" "$codes"
fault '{"query":"list-type","action":"500"}' >/dev/null
code=$(s3 S3RVER -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw?list-type=2")
expect "fault 500 matched on the query: 500 InternalError" "500 InternalError" "$code $(s3code)"
fault '{"method":"PUT","path":"^/raw/reset","action":"reset"}' >/dev/null
s3 S3RVER -T "$tmp/big" -H "x-amz-content-sha256: $big_sha" "$S3_TEST_ENDPOINT/raw/reset.bin" >/dev/null
rc=$?
case $rc in
  52 | 55 | 56) ok "fault reset: curl sees the connection dropped (exit $rc)" ;;
  *) fail "fault reset" "curl exit $rc, want 52, 55 or 56" ;;
esac
expect "fault reset: the retry succeeds" 200 "$(s3 S3RVER -T "$tmp/big" -H "x-amz-content-sha256: $big_sha" "$S3_TEST_ENDPOINT/raw/reset.bin")"
fault '{"method":"GET","path":"^/raw/hang","action":"timeout","ms":3000}' >/dev/null
s3 S3RVER --max-time 1 -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/hang" >/dev/null
expect "fault timeout: curl gives up (exit 28)" 28 "$?"
expect "fault timeout: the next request is answered" 404 "$(s3 S3RVER -H "x-amz-content-sha256: $empty" "$S3_TEST_ENDPOINT/raw/hang")"
remaining=$(admin "$S3_TEST_ADMIN/faults" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).map(r=>r.action+":"+r.count+":"+r.applied).join(" ")))')
expect "GET /__admin/faults: each rule with its remaining count" "503:0:1 slowdown:0:2 500:0:1 reset:0:1 timeout:0:1" "$remaining"
faults=$(admin "$S3_TEST_ADMIN/log" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(e=>e.fault).map(e=>e.fault+":"+e.status).join(" ")))')
expect "GET /__admin/log: the faults applied, in order" "503:503 slowdown:503 slowdown:503 500:500 reset:null timeout:null" "$faults"
admin -X DELETE "$S3_TEST_ADMIN/faults" >/dev/null
expect "DELETE /__admin/faults clears them" "[]" "$(admin "$S3_TEST_ADMIN/faults" | tr -d ' \n')"
expect "a rule with a bad regex: 400" 400 "$(fault '{"path":"(","action":"503"}')"
# drop-response: s3rver acts on the request, the client gets no answer.
admin -X DELETE "$S3_TEST_ADMIN/log" >/dev/null
expect "fault drop-response: 201" 201 "$(fault '{"method":"PUT","path":"^/raw/dropped","action":"drop-response"}')"
s3 S3RVER -T "$tmp/body" -H "x-amz-content-sha256: $body_sha" "$S3_TEST_ENDPOINT/raw/dropped.csv" >/dev/null
rc=$?
case $rc in
  52 | 55 | 56) ok "fault drop-response: curl gets no answer (exit $rc)" ;;
  *) fail "fault drop-response" "curl exit $rc, want 52, 55 or 56" ;;
esac
curl -s -o "$tmp/dropped" --max-time 5 "$S3_TEST_BACKEND/raw/dropped.csv"
if cmp -s "$tmp/body" "$tmp/dropped"; then ok "fault drop-response: s3rver acted (the object is there, whole)"
else fail "fault drop-response" "the object is not on s3rver"; fi
entry=$(admin "$S3_TEST_ADMIN/log" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).map(e=>e.method+":"+e.fault+":"+e.status).join(" ")))')
expect "fault drop-response: logged with fault set, status null" "PUT:drop-response:null" "$entry"
admin -X DELETE "$S3_TEST_ADMIN/faults" >/dev/null

# ---- the node half: vectors, multipart, signing rules -----------------------
node "$here/selftest.mjs" >"$tmp/node.log" 2>&1
rc=$?
cat "$tmp/node.log"
p=$(grep -c '^ok ' "$tmp/node.log")
f=$(grep -c '^FAIL ' "$tmp/node.log")
passed=$((passed + p))
failed=$((failed + f))
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && fail "selftest.mjs exited $rc"

# ---- stop -----------------------------------------------------------------
"$here/server.sh" stop "$tmp/h"
curl -s -o /dev/null --max-time 2 "$S3_TEST_ENDPOINT/__admin/health"
proxy_rc=$?
curl -s -o /dev/null --max-time 2 "$S3_TEST_BACKEND/"
expect "server.sh stop: neither port answers any more (curl exit 7 twice)" "7 7" "$proxy_rc $?"
"$here/server.sh" stop "$tmp/h"
expect "server.sh stop again: exit 0" 0 "$?"
finish
