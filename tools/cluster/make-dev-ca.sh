#!/bin/bash
# Makes a development certificate authority and one certificate per
# ChemLedger service, for running the services apart on one machine
# (tools/cluster/cluster.sh, the cluster-shape tests). NOT for production:
# the CA's key sits next to the certificates, unencrypted.
#
#   tools/cluster/make-dev-ca.sh DIR [NAME...]
#
# DIR gets ca.pem and ca.key, and for each NAME (default: ledgerd labeld
# waybilld verifyd auditd) NAME.pem and NAME.key: an ECDSA P-256 key and a
# certificate whose common name is NAME (what ledgerd's allow-list reads,
# docs/cluster.md), with subject alternative names NAME, localhost and
# 127.0.0.1, good for TLS servers and clients, valid for 30 days. Keys are
# mode 0600. Existing files are kept, so the script can add a name later.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -lt 1 ]] && exit 2 || exit 0
fi
dir=$1
shift
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then names=(ledgerd labeld waybilld verifyd auditd); fi
command -v openssl >/dev/null || { echo "make-dev-ca.sh: openssl is missing (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
umask 077
if [[ ! -f "$dir/ca.pem" ]]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 30 \
    -subj "/O=ChemLedger development/CN=ChemLedger development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  chmod 0644 "$dir/ca.pem"
fi
for name in "${names[@]}"; do
  if [[ ! "$name" =~ ^[a-z][a-z0-9-]{0,62}$ ]]; then
    echo "make-dev-ca.sh: '$name' is not a service name (lowercase letters, digits, hyphens)" >&2
    exit 2
  fi
  [[ -f "$dir/$name.pem" ]] && continue
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" \
    -subj "/O=ChemLedger development/CN=$name" 2>/dev/null
  cat > "$dir/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$name,DNS:localhost,IP:127.0.0.1
EXT
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/$name.pem" -days 30 -extfile "$dir/$name.ext" 2>/dev/null
  chmod 0644 "$dir/$name.pem"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
done
echo "make-dev-ca.sh: CA and certificates for ${names[*]} in $dir"
