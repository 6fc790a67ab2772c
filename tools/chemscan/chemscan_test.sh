#!/usr/bin/env bash
# End to end, offline: keys -> trust list -> signed labels -> PNG -> chemscan.
set -euo pipefail

BIN="${TEST_SRCDIR}/${TEST_WORKSPACE}/tools"
CHEMCTL="$BIN/chemctl/chemctl"
CHEMSCAN="$BIN/chemscan/chemscan"
WORK="${TEST_TMPDIR}/chemscan"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for k in root current old revoked stranger; do "$CHEMCTL" keygen --unsealed --out $k.key >/dev/null; done
KEYS=(current.key.pub:2026-01-01:2027-12-31 old.key.pub:2024-01-01:2025-12-31
      revoked.key.pub:2025-01-01:2026-12-31:2026-06-01)
TODAY="$(TZ=Asia/Shanghai date +%F)"
"$CHEMCTL" label trust-list --root-key root.key --resolver CL.EXAMPLE.CN --issued "$TODAY" \
  --expires "$(TZ=Asia/Shanghai date -d '+30 days' +%F)" "${KEYS[@]}" >trust.txt 2>root.txt
# A list that expired: it could predate a revocation.
"$CHEMCTL" label trust-list --root-key root.key --resolver CL.EXAMPLE.CN --issued 2026-01-01 \
  --expires 2026-01-08 "${KEYS[@]}" >expired.txt 2>/dev/null
ROOT="$(sed -n 's/^trust root (give this to verifiers): //p' root.txt)"
[[ "$ROOT" == CL.EXAMPLE.CN/label-trust+* ]] || fail "trust root: $ROOT"

make_label() {  # KEY SERIAL [RESOLVER]
  "$CHEMCTL" label make --key "$1" --resolver "${3:-CL.EXAMPLE.CN}" --enterprise 91350100M000100Y43 \
    --product AN01 --batch B2026112301 --serial "$2" --date 2026-11-23 --quantity 25 --unit KGM \
    --un 1942 --cas 6484-52-2 --flags 易制爆,重点监管,高危
}
GOOD="$(make_label current.key 1)"
OLD="$(make_label old.key 2)"
REVOKED="$(make_label revoked.key 3)"
STRANGER="$(make_label stranger.key 4)"
ELSEWHERE="$(make_label current.key 5 CL.EXAMPLE.COM)"

"$CHEMCTL" label render "$GOOD" --png good.png --svg good.svg >render.txt
grep -q "^QR version [0-9]*-M" render.txt || fail "render: $(cat render.txt)"
[[ "$(zbarimg --quiet --raw good.png)" == "$GOOD" ]] || fail "zbarimg does not read the URL back"

verify() { "$CHEMSCAN" verify --trust-list trust.txt --trust-root "$ROOT" "$@"; }

# An expired trust list is refused, unless the user takes the risk, and is
# told so with every verdict.
if "$CHEMSCAN" verify --trust-list expired.txt --trust-root "$ROOT" "$GOOD" >out.txt 2>err.txt; then
  fail "an expired trust list was used"
fi
grep -q "expired on 2026-01-08" err.txt || fail "expired list refusal: $(cat err.txt)"
"$CHEMSCAN" verify --trust-list expired.txt --trust-root "$ROOT" --accept-expired "$GOOD" \
  >out.txt 2>err.txt || fail "--accept-expired: $(cat out.txt err.txt)"
grep -q "^authentic	.*(trust list expired 2026-01-08: revocations since do not show)$" out.txt ||
  fail "expired-list verdict line: $(cat out.txt)"

verify good.png >out.txt || fail "authentic image refused: $(cat out.txt)"
grep -q "^authentic	91350100M000100Y43.AN01.B2026112301.1	good.png$" out.txt || fail "verdict line: $(cat out.txt)"
verify "$GOOD" "$OLD" >out.txt || fail "authentic URLs refused: $(cat out.txt)"
[[ "$(grep -c '^authentic' out.txt)" -eq 2 ]] || fail "two authentic lines expected: $(cat out.txt)"

expect_verdict() {  # VERDICT INPUT
  if verify "$2" >out.txt; then fail "$1 label accepted"; fi
  cut -f1 out.txt | grep -qx "$1" || fail "expected $1, got: $(cat out.txt)"
}
expect_verdict revoked-key "$REVOKED"
expect_verdict unknown-key "$STRANGER"
expect_verdict wrong-resolver "$ELSEWHERE"
expect_verdict malformed "${GOOD:0:${#GOOD}-3}"
expect_verdict malformed "${GOOD}AAAA"
# One bit of the signature flipped (a Base32 character near the end changed).
last="${GOOD: -1}"; [[ "$last" == "A" ]] && swap=B || swap=A
expect_verdict bad-signature "${GOOD:0:${#GOOD}-1}$swap"
# The signed part copied onto another product's URL.
expect_verdict bad-signature "${GOOD/.AN01\//.NC07\/}"

# stdin, JSON, and the exit status with one bad code among good ones.
printf '%s\n%s\n' "$GOOD" "$REVOKED" | verify --json - >out.txt && fail "mixed input exited 0"
grep -q '"verdict":"authentic"' out.txt || fail "json authentic: $(cat out.txt)"
grep -q '"input":"stdin:2","verdict":"revoked-key"' out.txt || fail "json revoked: $(cat out.txt)"

# A tampered trust list, or the wrong root, is refused outright.
sed 's/:2026-06-01//; s/ revoked 2026-06-01//' trust.txt >trust-forged.txt
if "$CHEMSCAN" verify --trust-list trust-forged.txt --trust-root "$ROOT" "$GOOD" 2>err.txt; then
  fail "forged trust list accepted"
fi
grep -q "does not verify" err.txt || fail "forged trust list error: $(cat err.txt)"
printf 'not an image' >junk.png
expect_verdict malformed junk.png
# Without --trust-root, the pinned root comes from the environment or the
# user's config file; with none of them the verifier refuses to guess.
if env -u CHEMLEDGER_TRUST_ROOT HOME="$WORK/home" XDG_CONFIG_HOME= "$CHEMSCAN" verify \
    --trust-list trust.txt "$GOOD" 2>err.txt; then fail "no pinned root accepted"; fi
grep -q -- "no pinned trust root" err.txt || fail "usage error: $(cat err.txt)"
CHEMLEDGER_TRUST_ROOT="$ROOT" "$CHEMSCAN" verify --trust-list trust.txt "$GOOD" >out.txt ||
  fail "root from CHEMLEDGER_TRUST_ROOT refused: $(cat out.txt)"
mkdir -p "$WORK/home/.config/chemledger" && echo "$ROOT" >"$WORK/home/.config/chemledger/trust-root"
env -u CHEMLEDGER_TRUST_ROOT HOME="$WORK/home" XDG_CONFIG_HOME= "$CHEMSCAN" verify \
  --trust-list trust.txt "$GOOD" >out.txt || fail "root from the config file refused: $(cat out.txt)"

if [[ $failures -ne 0 ]]; then echo "$failures failure(s)"; exit 1; fi
echo "all chemscan checks passed"
