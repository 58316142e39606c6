#!/usr/bin/env bash
# run.sh — the AWS credential chain, RDS IAM tokens and Secrets Manager.
# AWS itself cannot be reached from the tests, so its endpoints are
# loopback STAND-INS (mock.mjs) speaking the documented protocols: IMDSv2
# (token PUT with its TTL header, 401 for expired tokens), the container
# credentials endpoint (Authorization header), the STS query API (XML) and
# the Secrets Manager JSON API. The S3 requests made with the temporary
# credentials they hand out go to the S3 harness (tests/s3: s3rver behind
# our SigV4-checking proxy), which verifies each signature and session
# token. RDS IAM tokens are checked by recomputing their signature
# independently (sigv4_check.mjs, from AWS's SigV4 documents, not our code)
# — as printed by build/aws_probe, and as libpq sends them to a fake
# PostgreSQL front door (mock.mjs: it only records the password; real RDS
# cannot be reached). Secrets Manager fills the connection to a REAL
# PostgreSQL (tests/postgres/pg.sh). Every line of output is searched for
# the secrets at the end. Runs the sanitizer build when present.
# Ends with "N passed, N failed, N skipped"; a server that cannot start is a
# failure.
set -u
# shellcheck disable=SC2034 # read by lib.sh
LIB_SAY_OK=1
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
here="$root/tests/aws"
SP=$bin
PROBE=$(dirname "$SP")/aws_probe
[ -x "$PROBE" ] || PROBE=$root/build/aws_probe
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Nothing from the caller's environment may point the tests elsewhere.
for v in $(env | grep -oE '^(AWS_[A-Z_]+|S3_[A-Z_]+|RDS_[A-Z_]+|PG[A-Z_]+|DATABASE_URL|RAW_STORE|PROCESSED_STORE|DATA_DIR)='); do
  unset "${v%=}"
done

srv=$tmp/server
pgbase=${TMPDIR:-/tmp}; [ "$(id -u)" -eq 0 ] && pgbase=/tmp
pgdir=$(mktemp -d "$pgbase/salespipe-awspg.XXXXXX")
mock_pid=
# shellcheck disable=SC2317 # run by lib.sh at exit
stop_servers() {
  [ -z "$mock_pid" ] || kill "$mock_pid" 2>/dev/null
  tests/s3/server.sh stop "$srv" >/dev/null 2>&1
  tests/postgres/pg.sh stop "$pgdir" >/dev/null 2>&1
}
at_exit stop_servers
export HOME=$tmp/home
mkdir -p "$HOME/.aws" "$srv"
all=$tmp/all-output.log # every line the suite saw, searched for secrets at the end
: >"$all"

for tool in "$SP" "$PROBE"; do
  [ -x "$tool" ] || { bad build "$tool is missing (make && make tools)"; finish; }
done
for cmd in node curl python3 openssl psql; do
  command -v "$cmd" >/dev/null || { bad prerequisites "$cmd is not installed (make deps)"; finish; }
done

# Temporary credentials the stand-ins hand out (and the proxy accepts, each
# only with its session token); the long-term keys of a source profile.
TEMP_KEYS="ASIAMOCKAAAA:tempSecretA/111:sessTokenA+aaa=,ASIAMOCKBBBB:tempSecretB/222:sessTokenB+bbb=,ASIAMOCKCCCC:tempSecretC/333:sessTokenC+ccc="
SOURCE_KEYS="AKIASOURCE01:sourceSecret/0001"
WEB_TOKEN="eyJhbGciOiJSUzI1NiJ9.web-identity-token.sig"
CONTAINER_TOKEN="Basic Y29udGFpbmVyLXRva2Vu"
SECRET_DB_PASS= # set once PostgreSQL is up

if ! PROXY_KEYS="S3RVER:S3RVER,$TEMP_KEYS" S3_TEST_WATCH_PID=$$ S3_TEST_BUCKETS="raw processed" \
  tests/s3/server.sh start "$srv" >"$tmp/start.log" 2>&1; then
  bad harness "tests/s3/server.sh start failed: $(tail -n 8 "$tmp/start.log")"
  finish
fi
S3_TEST_ENDPOINT=$(grep '^S3_TEST_ENDPOINT=' "$srv/env" | cut -d= -f2-)
S3_TEST_ADMIN=$(grep '^S3_TEST_ADMIN=' "$srv/env" | cut -d= -f2-)

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
  -keyout "$tmp/pg.key" -out "$tmp/pg.crt" >/dev/null 2>&1
MOCK_TEMP_KEYS=$TEMP_KEYS MOCK_SOURCE_KEYS=$SOURCE_KEYS MOCK_WATCH_PID=$$ \
  MOCK_TLS_KEY=$tmp/pg.key MOCK_TLS_CERT=$tmp/pg.crt \
  node "$here/mock.mjs" "$tmp/ports.json" >"$tmp/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 50); do [ -s "$tmp/ports.json" ] && break; sleep 0.2; done
[ -s "$tmp/ports.json" ] || { bad mock "the AWS stand-ins did not start: $(cat "$tmp/mock.log")"; finish; }
port() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$tmp/ports.json" "$1"; }
IMDS=http://127.0.0.1:$(port imds)
CONTAINER=http://127.0.0.1:$(port container)
STS=http://127.0.0.1:$(port sts)
SM=http://127.0.0.1:$(port sm)
PG_FAKE=$(port pg)
ADMIN=http://127.0.0.1:$(port admin)

mock_cfg() { curl -sS --max-time 10 -X POST -d "$1" "$ADMIN/config" >/dev/null; }
mock_reset() {
  curl -sS --max-time 10 -X DELETE "$ADMIN/log" >/dev/null
  curl -sS --max-time 10 -X DELETE "$S3_TEST_ADMIN/log" >/dev/null
  mock_cfg '{"imdsTtlMax":21600,"credLifetime":3600,"containerToken":null,"webToken":null,"failImds":0}'
}
# mockq / proxyq PYTHON-EXPR over the request log `l` (a list of dicts).
mockq() { curl -sS --max-time 10 "$ADMIN/log" | python3 -c "import json,sys; l=json.load(sys.stdin); print($1)"; }
proxyq() { curl -sS --max-time 10 "$S3_TEST_ADMIN/log" | python3 -c "import json,sys; l=json.load(sys.stdin); print($1)"; }

# aws ENV… -- ARGS: one command with only the given AWS settings (and the S3
# endpoint); sets $out and $rc, and keeps the output for the secret search.
aws() {
  local envs=(AWS_ENDPOINT_URL_S3="$S3_TEST_ENDPOINT" AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true)
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  out=$(cd "$tmp/work" && env "${envs[@]}" "$@" 2>&1)
  rc=$?
  [ -n "${NOLOG:-}" ] || printf '%s\n' "$out" >>"$all"
}
mkdir -p "$tmp/work"
# The instance metadata stand-in, turned back on (aws() turns it off by default).
ON_EC2=(AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS")
temp_key_ids() { proxyq "sorted(set(e.get('accessKey') or '-' for e in l))"; }

# ---- EC2 instance metadata (IMDSv2) ----------------------------------------------
mock_reset
"$SP" gen --out "$tmp/work/data/raw" --rows 300 --seed 7 >/dev/null 2>&1
aws "${ON_EC2[@]}" RAW_STORE=s3://raw PROCESSED_STORE=s3://processed DATA_DIR=data -- \
  "$SP" run --only stage --ds 2024-05-01
rc1=$rc out1=$out
aws "${ON_EC2[@]}" RAW_STORE=s3://raw PROCESSED_STORE=s3://processed DATA_DIR=data -- \
  "$SP" transform --ds 2024-05-01
ttl=$(mockq "sorted(set(e.get('ttlAsked') for e in l if e['path']=='/latest/api/token'))")
untok=$(mockq "sum(1 for e in l if e['method']=='GET' and e['token']!='valid')")
keys=$(temp_key_ids)
# (404s are HEADs of objects not yet there; a refused signature is 400 or 403.)
nonok=$(proxyq "sum(1 for e in l if e['status'] in (None, 400, 401, 403))")
if [ "$rc1" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$ttl" = "['21600']" ] && [ "$untok" = 0 ] \
  && [ "$nonok" = 0 ] && grep -q "ASIAMOCK" <<<"$keys" && ! grep -qE "S3RVER|'-'" <<<"$keys"; then
  ok "IMDSv2: token PUT with a 21600 s TTL, role and credentials read with it; stage and transform on S3 signed with the temporary keys and session token (the proxy verified every request: keys $keys)"
else
  bad imds-run "stage rc $rc1, transform rc $rc; TTLs asked $ttl; GETs without a valid token $untok; proxy refusals $nonok; keys $keys: ${out1: -600} ${out: -600}"
fi

# The token expires (the stand-in grants 2 s) and the credentials are 3 s
# from their refresh margin: over three puts 4 s apart, the token is renewed
# and new credentials are fetched before each request.
mock_reset
mock_cfg '{"imdsTtlMax":2,"credLifetime":303}'
aws "${ON_EC2[@]}" -- "$PROBE" put s3://raw 3 4
puts=$(mockq "sum(1 for e in l if e['path']=='/latest/api/token')")
granted=$(mockq "sorted(set(e.get('ttlGranted') for e in l if e['path']=='/latest/api/token'))")
expired=$(mockq "sum(1 for e in l if e['method']=='GET' and e['token']!='valid')")
fetches=$(mockq "sum(1 for e in l if e.get('issued'))")
used=$(proxyq "[e.get('accessKey') for e in l if e['method']=='PUT']")
nonok=$(proxyq "sum(1 for e in l if e['status']!=200)")
if [ "$rc" -eq 0 ] && [ "$puts" -ge 2 ] && [ "$granted" = "[2]" ] && [ "$expired" = 0 ] \
  && [ "$fetches" -ge 3 ] && [ "$nonok" = 0 ] \
  && python3 -c "import sys; u=eval(sys.argv[1]); sys.exit(not(len(u)==3 and len(set(u))==3))" "$used"; then
  ok "IMDSv2 token renewed when its 2 s TTL ran out ($puts token PUTs, no GET with an expired token); credentials near expiry refreshed before each request ($fetches fetches; the proxy saw $used)"
else
  bad imds-refresh "rc $rc; token PUTs $puts (granted $granted); GETs with a bad token $expired; fetches $fetches; keys used $used; proxy non-200 $nonok: ${out: -800}"
fi

mock_reset
mock_cfg '{"failImds":5}'
aws "${ON_EC2[@]}" -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "AWS credentials from instance metadata (IMDSv2 at $IMDS" <<<"$out" \
  && grep -q "HTTP 500" <<<"$out"; then ok "IMDS answering 500: the error names the source and the answer"
else bad imds-500 "rc $rc: $out"; fi

aws AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "instance metadata (IMDSv2 at http://127.0.0.1:1" <<<"$out" \
  && grep -qi "IMDSv2 token: PUT http://127.0.0.1:1" <<<"$out"; then ok "IMDS unreachable: the error names the source, the endpoint and the token step"
else bad imds-unreachable "rc $rc: $out"; fi

aws -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "no AWS credentials" <<<"$out" && grep -q "AWS_EC2_METADATA_DISABLED=true" <<<"$out"; then
  ok "nothing configured and IMDS turned off: 'no AWS credentials' naming every source looked at"
else bad imds-disabled "rc $rc: $out"; fi

aws "${ON_EC2[@]}" -- "$SP" config
if [ "$rc" -eq 0 ] && grep -qE "AWS credentials +instance metadata \(IMDSv2 at $IMDS" <<<"$out"; then ok "config shows the source in use (instance metadata)"
else bad config-source "rc $rc: $(tail -n 5 <<<"$out")"; fi
aws RDS_SECRET_ID=salespipe/db RDS_IAM_AUTH=1 -- "$SP" config
if [ "$rc" -eq 0 ] && grep -qE "warehouse +PostgreSQL where the secret says; credentials from Secrets Manager secret 'salespipe/db' \(RDS_SECRET_ID\); password: a fresh RDS IAM token" <<<"$out"; then
  ok "config says where the database credentials come from (secret, IAM token)"
else bad config-db-auth "rc $rc: $(tail -n 6 <<<"$out")"; fi

# ---- container credentials (ECS, EKS Pod Identity) --------------------------------
mock_reset
mock_cfg "{\"containerToken\":\"$CONTAINER_TOKEN\"}"
aws AWS_CONTAINER_CREDENTIALS_FULL_URI="$CONTAINER/v2/credentials/abc" AWS_CONTAINER_AUTHORIZATION_TOKEN="$CONTAINER_TOKEN" -- \
  "$PROBE" put s3://raw 1 0
auth=$(mockq "[e['authorization'] for e in l if e['svc']=='container']")
if [ "$rc" -eq 0 ] && [ "$auth" = "['right']" ] && grep -q ASIAMOCK <<<"$(temp_key_ids)"; then
  ok "container credentials: GET with the Authorization token, S3 put signed with them"
else bad container "rc $rc; authorizations $auth: $out"; fi

mock_reset
printf '%s\n' "$CONTAINER_TOKEN" >"$tmp/container-token"
mock_cfg "{\"containerToken\":\"$CONTAINER_TOKEN\"}"
aws AWS_CONTAINER_CREDENTIALS_FULL_URI="$CONTAINER/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong-token \
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$tmp/container-token" -- "$PROBE" put s3://raw 1 0
if [ "$rc" -eq 0 ] && [ "$(mockq "[e['authorization'] for e in l]")" = "['right']" ]; then
  ok "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the variable (EKS Pod Identity)"
else bad container-token-file "rc $rc: $out"; fi

aws AWS_CONTAINER_CREDENTIALS_FULL_URI="$CONTAINER/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong-token -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "AWS credentials from container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI at $CONTAINER" <<<"$out" \
  && grep -q "HTTP 401 AccessDenied" <<<"$out"; then ok "container credentials refused: the error names the source and AccessDenied"
else bad container-refused "rc $rc: $out"; fi

aws AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com/creds -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "plain http is allowed only to a loopback address" <<<"$out"; then
  ok "container FULL_URI over plain http to another host is refused, as the SDKs do"
else bad container-host "rc $rc: $out"; fi

# ---- web identity (EKS IRSA) -------------------------------------------------------
mock_reset
printf '%s' "$WEB_TOKEN" >"$tmp/web-token"
mock_cfg "{\"webToken\":\"$WEB_TOKEN\"}"
WEB=(AWS_WEB_IDENTITY_TOKEN_FILE="$tmp/web-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/salespipe)
aws "${WEB[@]}" AWS_ROLE_SESSION_NAME=sp-test AWS_ENDPOINT_URL_STS="$STS" -- "$PROBE" put s3://raw 1 0
sts=$(mockq "[(e['action'], e['signed'], e['sessionName']) for e in l if e['svc']=='sts']")
if [ "$rc" -eq 0 ] && [ "$sts" = "[('AssumeRoleWithWebIdentity', False, 'sp-test')]" ] && grep -q ASIAMOCK <<<"$(temp_key_ids)"; then
  ok "web identity: unsigned AssumeRoleWithWebIdentity at AWS_ENDPOINT_URL_STS with the token file, role and session name; S3 put with the role's credentials"
else bad web-identity "rc $rc; STS calls $sts: $out"; fi

mock_reset
mock_cfg "{\"webToken\":\"$WEB_TOKEN\"}"
aws "${WEB[@]}" AWS_ENDPOINT_URL="$STS" -- "$PROBE" put s3://raw 1 0
if [ "$rc" -eq 0 ] && [ "$(mockq "len([e for e in l if e['svc']=='sts'])")" = 1 ]; then
  ok "AWS_ENDPOINT_URL (the general name) redirects STS too"
else bad web-identity-endpoint-url "rc $rc: $out"; fi

mock_cfg '{"webToken":"another-token"}'
aws "${WEB[@]}" AWS_ENDPOINT_URL_STS="$STS" -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "AWS credentials from web identity (AWS_ROLE_ARN" <<<"$out" \
  && grep -q "STS AssumeRoleWithWebIdentity at $STS: HTTP 403 InvalidIdentityToken" <<<"$out"; then
  ok "web identity refused: the error names the source, STS and its code"
else bad web-identity-refused "rc $rc: $out"; fi

aws AWS_WEB_IDENTITY_TOKEN_FILE="$tmp/web-token" -- "$PROBE" source
if [ "$rc" -ne 0 ] && grep -q "AWS_ROLE_ARN is not" <<<"$out"; then ok "web identity half configured: named"
else bad web-identity-half "rc $rc: $out"; fi

# ---- shared files: role_arn + source_profile, credential_process -----------------
mock_reset
cat >"$HOME/.aws/credentials" <<EOF
[src]
aws_access_key_id = ${SOURCE_KEYS%%:*}
aws_secret_access_key = ${SOURCE_KEYS#*:}
[badsrc]
aws_access_key_id = ${SOURCE_KEYS%%:*}
aws_secret_access_key = not-the-secret
EOF
cat >"$tmp/cred-process.sh" <<EOF
#!/bin/sh
echo '{"Version": 1, "AccessKeyId": "ASIAMOCKCCCC", "SecretAccessKey": "tempSecretC/333", "SessionToken": "sessTokenC+ccc=", "Expiration": "2099-01-01T00:00:00Z"}'
EOF
chmod +x "$tmp/cred-process.sh"
cat >"$HOME/.aws/config" <<EOF
[profile etl]
role_arn = arn:aws:iam::123456789012:role/salespipe
source_profile = src
role_session_name = etl-session
[profile etlbad]
role_arn = arn:aws:iam::123456789012:role/salespipe
source_profile = badsrc
[profile proc]
credential_process = $tmp/cred-process.sh
[profile procfail]
credential_process = sh -c 'exit 3'
EOF
aws AWS_PROFILE=etl AWS_ENDPOINT_URL_STS="$STS" -- "$PROBE" put s3://raw 1 0
sts=$(mockq "[(e['action'], e.get('signature'), e['sessionName']) for e in l if e['svc']=='sts']")
if [ "$rc" -eq 0 ] && [ "$sts" = "[('AssumeRole', 'valid', 'etl-session')]" ]; then
  ok "profile role_arn + source_profile: AssumeRole signed with the source profile's keys (signature checked), S3 with the role's"
else bad profile-role "rc $rc; STS calls $sts: $out"; fi

aws AWS_PROFILE=etlbad AWS_ENDPOINT_URL_STS="$STS" -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "AWS credentials from profile etlbad" <<<"$out" && grep -q "STS AssumeRole at $STS: HTTP 403 SignatureDoesNotMatch" <<<"$out"; then
  ok "profile role with a wrong source secret: the error names the profile, STS and SignatureDoesNotMatch"
else bad profile-role-refused "rc $rc: $out"; fi

curl -sS -X DELETE "$S3_TEST_ADMIN/log" >/dev/null
aws AWS_PROFILE=proc -- "$PROBE" put s3://raw 1 0
if [ "$rc" -eq 0 ] && [ "$(temp_key_ids)" = "['ASIAMOCKCCCC']" ]; then ok "profile credential_process: its JSON credentials sign the S3 put"
else bad credential-process "rc $rc; keys $(temp_key_ids): $out"; fi

aws AWS_PROFILE=procfail -- "$PROBE" put s3://raw 1 0
if [ "$rc" -ne 0 ] && grep -q "profile procfail" <<<"$out" && grep -q "credential_process: the command failed (exit status 3)" <<<"$out"; then
  ok "a failing credential_process: the error names the profile and the exit status"
else bad credential-process-fail "rc $rc: $out"; fi
: >"$HOME/.aws/credentials"
: >"$HOME/.aws/config"

# ---- RDS IAM authentication tokens -------------------------------------------------
mock_reset
# (The token printed on purpose is kept out of the output searched for secrets.)
NOLOG=1 aws "${ON_EC2[@]}" AWS_REGION=eu-west-1 -- "$PROBE" rds-token mydb.abc123.eu-west-1.rds.amazonaws.com 5432 etl_user
token=$out
printf '%s' "$token" >"$tmp/token"
check=$(node "$here/check_token.mjs" token "$TEMP_KEYS" mydb.abc123.eu-west-1.rds.amazonaws.com 5432 etl_user eu-west-1 "$tmp/token" 2>&1)
if [ "$rc" -eq 0 ] && [ "$check" = valid ]; then ok "RDS IAM token: every parameter as AWS documents it, signature recomputed independently (rds-db, eu-west-1, 900 s, session token)"
else bad rds-token "rc $rc; check: $check; token: ${token:0:200}"; fi

# What libpq receives: the fake front door (TLS) records the password.
mock_reset
IAM=("${ON_EC2[@]}" RDS_IAM_AUTH=1 RDS_HOST=127.0.0.1 RDS_PORT="$PG_FAKE" RDS_USER=etl_iam RDS_DB=sales)
aws "${IAM[@]}" -- "$SP" create-tables
rc1=$rc out1=$out
sleep 1.1 # another second: another X-Amz-Date, so another token
aws "${IAM[@]}" -- "$SP" create-tables
curl -sS "$ADMIN/pg" >"$tmp/logins.json"
check=$(node "$here/check_token.mjs" logins "$TEMP_KEYS" 127.0.0.1 "$PG_FAKE" etl_iam us-east-1 "$tmp/logins.json" 2>&1)
if [ "$rc1" -eq 1 ] && [ "$rc" -eq 1 ] && grep -q "password authentication failed" <<<"$out" && [ "$check" = valid ]; then
  ok "RDS_IAM_AUTH=1: libpq sends a fresh, valid token as the password, over TLS (sslmode forced to require); the fake server's refusal is reported"
else bad rds-iam-libpq "rc $rc1/$rc; check: $check: ${out: -600}"; fi

for mode in disable allow prefer; do
  aws "${IAM[@]}" PGSSLMODE=$mode -- "$SP" create-tables
  if [ "$rc" -eq 2 ] && grep -q "RDS_IAM_AUTH=1 needs TLS: sslmode '$mode' (from PGSSLMODE)" <<<"$out"; then :
  else bad "rds-iam-sslmode-$mode" "rc $rc: $out"; continue 2; fi
done
aws "${ON_EC2[@]}" RDS_IAM_AUTH=1 DATABASE_URL="postgresql://etl_iam@127.0.0.1:$PG_FAKE/sales?sslmode=prefer" -- "$SP" create-tables
if [ "$rc" -eq 2 ] && grep -q "sslmode 'prefer' (from DATABASE_URL)" <<<"$out"; then
  ok "RDS_IAM_AUTH=1 refuses sslmode disable, allow and prefer (PGSSLMODE or the URL) with exit 2"
else bad rds-iam-sslmode-url "rc $rc: $out"; fi

aws RDS_IAM_AUTH=1 RDS_HOST=127.0.0.1 RDS_PORT="$PG_FAKE" RDS_USER=etl_iam AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 AWS_EC2_METADATA_DISABLED=false -- "$SP" create-tables
if [ "$rc" -eq 1 ] && grep -q "RDS IAM token for etl_iam@127.0.0.1:$PG_FAKE: AWS credentials from instance metadata" <<<"$out"; then
  ok "RDS IAM token without credentials: the error names the token, the user and host, and the source"
else bad rds-iam-no-creds "rc $rc: $out"; fi

# ---- Secrets Manager → a real PostgreSQL ------------------------------------------
if ! tests/postgres/pg.sh start "$pgdir" >"$tmp/pgstart.log" 2>&1; then
  bad pg-start "cannot start PostgreSQL 15 (tests/postgres/pg.sh): $(tail -n 5 "$tmp/pgstart.log")"
else
  # shellcheck disable=SC1091
  . "$pgdir/env"
  SECRET_DB_PASS=$PG_PASS
  secret_full=$(python3 -c 'import json,sys; print(json.dumps(json.dumps({"username":sys.argv[1],"password":sys.argv[2],"engine":"postgres","host":"127.0.0.1","port":int(sys.argv[3]),"dbname":sys.argv[4]})))' "$PG_USER" "$PG_PASS" "$PG_PORT" "$PG_DB")
  secret_rds=$(python3 -c 'import json,sys; print(json.dumps(json.dumps({"username":sys.argv[1],"password":sys.argv[2]})))' "$PG_USER" "$PG_PASS")
  mock_reset
  mock_cfg "{\"secrets\":{\"salespipe/db\":$secret_full,\"rds!db-1234\":$secret_rds}}"
  SMENV=("${ON_EC2[@]}" AWS_ENDPOINT_URL_SECRETS_MANAGER="$SM")
  aws "${SMENV[@]}" RDS_SECRET_ID=salespipe/db -- "$SP" create-tables
  tables=$(psql -X -q -At -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_ADMIN" -d "$PG_DB" -c "select count(*) from pg_tables where tablename in ('dim_date','dim_product','fact_sales')" 2>&1)
  calls=$(mockq "[(e['secretId'], e['signature'], e['accessKey'][:8]) for e in l if e['svc']=='sm']")
  if [ "$rc" -eq 0 ] && [ "$tables" = 3 ] && [ "$calls" = "[('salespipe/db', 'valid', 'ASIAMOCK')]" ]; then
    ok "RDS_SECRET_ID alone: one signed GetSecretValue (temporary credentials, session token) gives user, password, host, port and database of a real PostgreSQL; create-tables made the tables"
  else bad secret-full "rc $rc; tables $tables; calls $calls: ${out: -600}"; fi

  mock_reset
  mock_cfg "{\"secrets\":{\"salespipe/db\":$secret_full,\"rds!db-1234\":$secret_rds}}"
  aws "${SMENV[@]}" RDS_SECRET_ID='rds!db-1234' RDS_HOST=127.0.0.1 RDS_PORT="$PG_PORT" RDS_DB="$PG_DB" -- "$SP" preflight --ds 2024-05-01
  pre=$out prc=$rc
  aws "${SMENV[@]}" RDS_SECRET_ID='rds!db-1234' RDS_HOST=127.0.0.1 RDS_PORT="$PG_PORT" RDS_DB="$PG_DB" RDS_USER=nobody -- "$SP" create-tables
  if [ "$prc" -eq 0 ] && [ "$rc" -eq 1 ] && grep -q 'user "nobody"' <<<"$out"; then
    ok "an RDS-managed secret (username and password only) fills what RDS_* leave unset (preflight connects); RDS_USER, when set, wins over the secret's username"
  else bad secret-partial "preflight rc $prc: ${pre: -400}; create-tables rc $rc: ${out: -400}"; fi

  aws "${SMENV[@]}" RDS_SECRET_ID=missing/secret -- "$SP" create-tables
  if [ "$rc" -eq 1 ] && grep -q "ResourceNotFoundException" <<<"$out" && grep -q "RDS_SECRET_ID" <<<"$out" \
    && grep -q "missing/secret" <<<"$out"; then
    ok "a missing secret: exit 1 naming RDS_SECRET_ID, the secret and ResourceNotFoundException"
  else bad secret-missing "rc $rc: $out"; fi
fi

# ---- no secret in any output ---------------------------------------------------------
leaks=""
IFS=, read -r -a temps <<<"$TEMP_KEYS"
needles=("${SOURCE_KEYS#*:}" "$WEB_TOKEN" "$CONTAINER_TOKEN")
for t in "${temps[@]}"; do needles+=("$(cut -d: -f2 <<<"$t")" "$(cut -d: -f3 <<<"$t")"); done
[ -n "$SECRET_DB_PASS" ] && needles+=("$SECRET_DB_PASS")
sigs=$(python3 -c 'import json,sys,re; print("\n".join(re.findall(r"X-Amz-Signature=([0-9a-f]{64})", " ".join(l["password"] for l in json.load(open(sys.argv[1]))))))' "$tmp/logins.json")
for s in $sigs; do needles+=("$s"); done
for n in "${needles[@]}"; do
  [ -n "$n" ] && grep -qF -- "$n" "$all" && leaks+=" ${n:0:6}…"
done
# The one token printed on purpose (aws_probe rds-token) is not a log line.
if [ -z "$leaks" ] && [ "${#needles[@]}" -ge 10 ]; then ok "no secret key, session token, web or container token, database password or RDS token signature in any output (${#needles[@]} values searched)"
else bad secrets "found in the output:$leaks"; fi

finish
