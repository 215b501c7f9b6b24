#!/bin/sh
# Sign a GitHub sample payload the way GitHub does and POST it to a running `encharge-lua serve`.
#
#   ./send-sample.sh URL SECRET [PAYLOAD.json [EVENT]]
#   ./send-sample.sh http://127.0.0.1:8080/github my-secret
#
# X-Hub-Signature-256 is "sha256=" + the hex HMAC-SHA256 of the raw body keyed with the webhook's
# secret (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
# EVENT goes in X-GitHub-Event (default: star). Each run sends a fresh X-GitHub-Delivery id; set
# DELIVERY_ID=... to send the same id twice and see serve answer the second {"duplicate": true}.
# The body is sent byte for byte as it is in the file. Needs curl and openssl.
set -eu

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  echo "usage: $0 URL SECRET [PAYLOAD.json [EVENT]]   (default: star.created.json next to this script, event star)" >&2
  exit 2
fi
url=$1
secret=$2
payload=${3:-$(dirname "$0")/star.created.json}
event=${4:-star}
[ -r "$payload" ] || { echo "$0: cannot read $payload" >&2; exit 2; }

new_uuid() {
  if command -v uuidgen >/dev/null 2>&1; then uuidgen | tr 'A-F' 'a-f'
  elif [ -r /proc/sys/kernel/random/uuid ]; then cat /proc/sys/kernel/random/uuid
  else od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)/\1-\2-\3-\4-/'
  fi
}
delivery=${DELIVERY_ID:-$(new_uuid)}

signature=$(openssl dgst -sha256 -hmac "$secret" < "$payload" | awk '{print $NF}')

echo "X-GitHub-Delivery: $delivery" >&2
curl -sS -w '\nHTTP %{http_code}\n' "$url" \
  -H 'Content-Type: application/json' \
  -H 'User-Agent: GitHub-Hookshot/a1b2c3d' \
  -H "X-GitHub-Event: $event" \
  -H "X-GitHub-Delivery: $delivery" \
  -H 'X-GitHub-Hook-ID: 492011555' \
  -H "X-Hub-Signature-256: sha256=$signature" \
  --data-binary "@$payload"
