#!/bin/sh
# Sign a Shopify sample order the way Shopify does and POST it to a running `encharge-lua serve`.
#
#   ./send-sample.sh URL SECRET [PAYLOAD.json [TOPIC]]
#   ./send-sample.sh http://127.0.0.1:8080/shopify my-secret
#
# X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body keyed with the secret
# (https://shopify.dev/docs/apps/build/webhooks/subscribe/https). TOPIC goes in X-Shopify-Topic
# (default: orders/create). Each run sends a fresh X-Shopify-Webhook-Id; set WEBHOOK_ID=... to send
# the same id twice and see serve answer the second {"duplicate": true}. The body is sent byte for
# byte as it is in the file. Needs curl and openssl.
set -eu

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  echo "usage: $0 URL SECRET [PAYLOAD.json [TOPIC]]   (default: orders-create.json next to this script, topic orders/create)" >&2
  exit 2
fi
url=$1
secret=$2
payload=${3:-$(dirname "$0")/orders-create.json}
topic=${4:-orders/create}
[ -r "$payload" ] || { echo "$0: cannot read $payload" >&2; exit 2; }

new_uuid() {
  if command -v uuidgen >/dev/null 2>&1; then uuidgen | tr 'A-F' 'a-f'
  elif [ -r /proc/sys/kernel/random/uuid ]; then cat /proc/sys/kernel/random/uuid
  else od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)/\1-\2-\3-\4-/'
  fi
}
webhook_id=${WEBHOOK_ID:-$(new_uuid)}

signature=$(openssl dgst -sha256 -hmac "$secret" -binary < "$payload" | openssl base64 -A)

echo "X-Shopify-Webhook-Id: $webhook_id" >&2
curl -sS -w '\nHTTP %{http_code}\n' "$url" \
  -H 'Content-Type: application/json' \
  -H "X-Shopify-Topic: $topic" \
  -H "X-Shopify-Hmac-Sha256: $signature" \
  -H 'X-Shopify-Shop-Domain: example-outdoor.myshopify.com' \
  -H 'X-Shopify-API-Version: 2024-07' \
  -H "X-Shopify-Webhook-Id: $webhook_id" \
  -H "X-Shopify-Event-Id: $(new_uuid)" \
  -H "X-Shopify-Triggered-At: $(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)" \
  --data-binary "@$payload"
