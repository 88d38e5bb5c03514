#!/usr/bin/env bash
# A throwaway test CA and a certificate it signed for localhost and 127.0.0.1, for running voxrelay
# with [server.tls] in tests (docs/tls.md, "Testing with a private CA"). Writes into DIR:
#   ca.pem              the CA certificate clients are told to trust
#   cert.pem, key.pem   the server's certificate (leaf, then the CA) and its PKCS#8 key
# The CA's key is deleted once the certificate is signed. Needs openssl.
#
#   scripts/make-test-cert.sh DIR
set -euo pipefail
dir=${1:?usage: make-test-cert.sh DIR}
command -v openssl >/dev/null || { echo "make-test-cert: openssl is needed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=voxrelay test CA $(date +%s)-$$" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout key.pem -out leaf.csr 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile leaf.ext -out leaf.pem 2>/dev/null
cat leaf.pem ca.pem >cert.pem
rm -f ca.key ca.srl leaf.csr leaf.ext leaf.pem
chmod 644 ca.pem cert.pem
