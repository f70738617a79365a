#!/usr/bin/env bash
# Seed the cargo-fuzz corpora from the real gitsign signatures and objects in
# ../shared/fixtures/real (beside the checkout) and the embedded trusted roots.
set -euo pipefail
cd "$(dirname "$0")"
real=../../shared/fixtures/real
c=corpus
mkdir -p $c/{gpg_args,git_split,armor,cms_verify,entry_protobuf,entry_per_field,rekor_json,checkpoint,fulcio_pem,id_token,trusted_root,cache_frames}
for f in "$real"/*.commit "$real"/*.tag "$real"/negative/*.commit; do cp "$f" $c/git_split/; done
for d in "$real"/examples/*/; do
  n=$(basename "$d")
  cp "$d/signature.der" "$c/cms_verify/$n.der"
  cp "$d/signature.txt" "$c/armor/$n.txt"
  cp "$d/signature.txt" "$c/cms_verify/$n.txt"
  [ -f "$d/cert0.pem" ] && cp "$d/cert0.pem" "$c/fulcio_pem/$n.pem"
  [ -f "$d/rekor0_entry.json" ] && cp "$d/rekor0_entry.json" "$c/rekor_json/$n.json"
  [ -f "$d/rekor0_hashedrekord_body.json" ] && cp "$d/rekor0_hashedrekord_body.json" "$c/rekor_json/$n.body.json"
  if [ -f "$d/rekor0_entry.json" ]; then
    python3 - "$d/rekor0_entry.json" "$c/checkpoint/$n.note" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(e["inclusion_proof"]["checkpoint"])
PY
  fi
done
# The embedded entry bytes (attribute 1.3.6.1.4.1.57264.3.1) of the offline-mode signatures.
python3 - "$real" $c/entry_protobuf <<'PY'
import glob, os, sys
oid = bytes.fromhex("060a2b0601040183bf30030131")
for p in glob.glob(os.path.join(sys.argv[1], "examples", "*", "signature.der")):
    der = open(p, "rb").read()
    i = der.find(oid)
    if i < 0:
        continue
    j = i + len(oid)
    j += 1 + (der[j] & 0x7f if der[j] & 0x80 else 0) + 1  # SET length, then OCTET STRING tag
    l0 = der[j]; j += 1
    n = l0
    if l0 & 0x80:
        k = l0 & 0x7f
        n = int.from_bytes(der[j:j + k], "big"); j += k
    open(os.path.join(sys.argv[2], os.path.basename(os.path.dirname(p))), "wb").write(der[j:j + n])
PY
cp ../assets/trust/*.json $c/trusted_root/
printf -- '--status-fd=2\0-bsau\0Jane <j@x>' > $c/gpg_args/git-sign
printf -- '--status-fd=1\0--verify\0/tmp/sig\0-' > $c/gpg_args/git-verify
printf 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoicyIsImVtYWlsIjoiYUBleGFtcGxlLmNvbSIsImVtYWlsX3ZlcmlmaWVkIjp0cnVlfQ.c2ln' > $c/id_token/jwt
printf '\x00\x00\x00\x02\x01\x03' > $c/cache_frames/list
echo "corpora seeded under fuzz/$c"
