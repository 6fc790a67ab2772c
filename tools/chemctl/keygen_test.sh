#!/usr/bin/env bash
# chemctl keygen writes a key pair whole or leaves the one there as it was:
# refused without --force; with --force, a failure while writing keeps the
# old private key (it used to remove both).
set -euo pipefail
CHEMCTL="$TEST_SRCDIR/$TEST_WORKSPACE/tools/chemctl/chemctl"
W="$TEST_TMPDIR/keygen"
rm -rf "$W" && mkdir -p "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CHEMCTL" keygen --unsealed --out "$W/k" >/dev/null
[ -s "$W/k" ] && [ -s "$W/k.pub" ] || fail "no key pair written"
[ "$(stat -c %a "$W/k")" = 600 ] || fail "private key mode $(stat -c %a "$W/k")"
cp "$W/k" "$W/k.old" && cp "$W/k.pub" "$W/k.pub.old"

# Without --force: refused, nothing changed.
if "$CHEMCTL" keygen --unsealed --out "$W/k" >"$W/out" 2>&1; then fail "overwrote without --force"; fi
grep -q "refusing to overwrite existing key file" "$W/out" || fail "$(cat "$W/out")"
cmp -s "$W/k" "$W/k.old" && cmp -s "$W/k.pub" "$W/k.pub.old" || fail "changed without --force"

# With --force, the public key cannot be written (its name taken by a
# directory): an error, and the old private key still there, as it was.
mv "$W/k.pub" "$W/k.pub.saved" && mkdir "$W/k.pub" && touch "$W/k.pub/x"
if "$CHEMCTL" keygen --unsealed --force --out "$W/k" >"$W/out" 2>&1; then fail "wrote past a failure"; fi
[ -e "$W/k" ] || fail "the old private key was removed: $(cat "$W/out")"
cmp -s "$W/k" "$W/k.old" || fail "the old private key was replaced: $(cat "$W/out")"
[ -z "$(ls "$W" | grep '\.new-')" ] || fail "left the new key aside: $(ls "$W")"
rm -r "$W/k.pub" && mv "$W/k.pub.saved" "$W/k.pub"

# With --force and nothing in the way: a new pair, nothing left aside.
"$CHEMCTL" keygen --unsealed --force --out "$W/k" >/dev/null
cmp -s "$W/k" "$W/k.old" && fail "--force kept the old key"
cmp -s "$W/k.pub" "$W/k.pub.old" && fail "--force kept the old public key"
[ -z "$(ls "$W" | grep '\.new-')" ] || fail "left files aside: $(ls "$W")"
echo PASS
