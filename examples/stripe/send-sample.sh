#!/bin/sh
# Sign a Stripe sample event the way Stripe does and POST it to a running `encharge-lua serve`.
#
#   ./send-sample.sh URL SECRET [EVENT.json]
#   ./send-sample.sh http://127.0.0.1:8080/stripe whsec_test
#
# Stripe-Signature is "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' keyed with the whole
# whsec_... secret>" (https://docs.stripe.com/webhooks#verify-manually). The body is sent byte for
# byte as it is in the file, because the signature covers exactly those bytes. Needs curl and openssl.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 URL SECRET [EVENT.json]   (default event: invoice.paid.json next to this script)" >&2
  exit 2
fi
url=$1
secret=$2
payload=${3:-$(dirname "$0")/invoice.paid.json}
[ -r "$payload" ] || { echo "$0: cannot read $payload" >&2; exit 2; }

t=$(date +%s)
signature=$({ printf '%s.' "$t"; cat "$payload"; } | openssl dgst -sha256 -hmac "$secret" | awk '{print $NF}')

curl -sS -w '\nHTTP %{http_code}\n' "$url" \
  -H 'Content-Type: application/json; charset=utf-8' \
  -H 'User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)' \
  -H "Stripe-Signature: t=$t,v1=$signature" \
  --data-binary "@$payload"
