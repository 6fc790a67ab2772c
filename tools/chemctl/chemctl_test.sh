#!/usr/bin/env bash
# End-to-end test of the chemctl binary: real process, real LevelDB on disk.
set -euo pipefail

CHEMCTL="${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/chemctl/chemctl"
WORK="${TEST_TMPDIR}/chemctl"
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: got '$1', want '$2'"; }
# expect_error WANT_SUBSTRING CMD...: non-zero exit, exactly one stderr line containing it.
expect_error() {
  local want="$1"; shift
  if "$@" >out.txt 2>err.txt; then fail "'$*' succeeded"; return; fi
  [[ "$(wc -l <err.txt)" -eq 1 ]] || fail "'$*' printed $(wc -l <err.txt) error lines"
  grep -qF -- "$want" err.txt || fail "'$*' error '$(cat err.txt)' lacks '$want'"
}

# --- merkle root: RFC 6962 vectors ---------------------------------------
expect_eq "$("$CHEMCTL" merkle root)" \
  e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "empty tree"
expect_eq "$("$CHEMCTL" merkle root "")" \
  6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d "one empty leaf"
CT_LEAVES=("" 00 10 2021 3031 40414243 5051525354555657 606162636465666768696a6b6c6d6e6f)
expect_eq "$("$CHEMCTL" merkle root "${CT_LEAVES[@]}")" \
  5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328 "eight CT leaves"
expect_eq "$("$CHEMCTL" merkle root "${CT_LEAVES[@]:0:3}")" \
  aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77 "three CT leaves"
expect_error "leaf 1 ('0g')" "$CHEMCTL" merkle root 00 0g
expect_error "odd length" "$CHEMCTL" merkle root abc

# --- log: append, root, proofs, verify ------------------------------------
"$CHEMCTL" log append --db db --hex "${CT_LEAVES[@]:0:5}" >out.txt
grep -q "appended 5 entries at indexes 0..4; log size 5" out.txt || fail "append output: $(cat out.txt)"
printf '%s\n' 40414243 5051525354555657 | "$CHEMCTL" log append --db db --hex >/dev/null
expect_eq "$("$CHEMCTL" log root --db db)" \
  "size 7
root ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c" "root at 7"
"$CHEMCTL" log append --db db --hex 606162636465666768696a6b6c6d6e6f >/dev/null
expect_eq "$("$CHEMCTL" log root --db db | tail -1)" \
  "root 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328" "root at 8"
expect_eq "$("$CHEMCTL" log root --db db --size 3 | tail -1)" \
  "root aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77" "root at 3"
expect_eq "$("$CHEMCTL" log entry --db db --index 3 --hex)" 2021 "entry 3"

"$CHEMCTL" log proof --db db --index 5 >out.txt
grep -q "^proof bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b$" out.txt \
  || fail "inclusion proof of 5 in 8: $(cat out.txt)"
grep -q "^verified inclusion proof of entry 5 in tree size 8$" out.txt || fail "proof not verified"
"$CHEMCTL" log consistency --db db --from 6 --to 8 >out.txt
grep -q "^proof 0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a$" out.txt \
  || fail "consistency proof 6->8: $(cat out.txt)"
grep -q "^verified consistency proof from size 6 to 8$" out.txt || fail "consistency not verified"
"$CHEMCTL" log verify --db db >out.txt
grep -q "^ok: log size 8, 8 entries re-hashed" out.txt || fail "verify: $(cat out.txt)"

expect_error "leaf index 8 is not below tree size 8" "$CHEMCTL" log proof --db db --index 8
expect_error "tree size 9 is beyond the log size 8" "$CHEMCTL" log root --db db --size 9
expect_error "--index must be an unsigned integer" "$CHEMCTL" log proof --db db --index x
expect_error "--db is required" "$CHEMCTL" log root
expect_error "no log in" "$CHEMCTL" log root --db nonexistent
expect_error "entry 0: invalid hex digit" "$CHEMCTL" log append --db db --hex zz
expect_eq "$("$CHEMCTL" log root --db db | head -1)" "size 8" "rejected append wrote nothing"

# --- keys and checkpoints --------------------------------------------------
expect_error "give --passphrase-file F to seal the key" "$CHEMCTL" keygen --out plain.key
[[ ! -e plain.key ]] || fail "a refused keygen wrote a key"
"$CHEMCTL" keygen --unsealed --out log.key --note-name chemledger.test/log >keygen.txt
expect_eq "$(stat -c %a log.key)" 600 "private key mode"
[[ -f log.key.pub ]] || fail "no public key file"
vkey="$(sed -n 's/^note-verifier-key //p' keygen.txt)"
[[ "$vkey" == chemledger.test/log+* ]] || fail "verifier key: '$vkey'"
expect_error "refusing to overwrite existing key file log.key" "$CHEMCTL" keygen --unsealed --out log.key
expect_eq "$("$CHEMCTL" key show log.key.pub | head -1)" "$(head -3 keygen.txt | sed -n 's/^key-id/key-id/p')" "key show"

"$CHEMCTL" log checkpoint --db db --key log.key --origin chemledger.test/log >cp.txt
expect_eq "$(sed -n 2,3p cp.txt)" "8
XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=" "checkpoint body"
"$CHEMCTL" checkpoint verify --origin chemledger.test/log --verifier-key "$vkey" cp.txt >out.txt
grep -q "^size 8$" out.txt || fail "checkpoint verify: $(cat out.txt)"
sed '2s/8/7/' cp.txt >cp-tampered.txt
expect_error "" "$CHEMCTL" checkpoint verify --origin chemledger.test/log --verifier-key "$vkey" cp-tampered.txt
expect_error "origin" "$CHEMCTL" checkpoint verify --origin other.test/log --verifier-key "$vkey" cp.txt

"$CHEMCTL" log verify --db db --checkpoint cp.txt --origin chemledger.test/log \
  --verifier-key "$vkey" >out.txt || fail "verify against checkpoint failed"
grep -q "^matches the signed checkpoint at size 8$" out.txt || fail "verify vs checkpoint: $(cat out.txt)"
expect_error "does not verify" "$CHEMCTL" log verify --db db --checkpoint cp-tampered.txt \
  --origin chemledger.test/log --verifier-key "$vkey"
# A log holding only the first 5 of those entries is self-consistent, but not
# the log the checkpoint signed: a truncation.
"$CHEMCTL" log append --db short --hex "${CT_LEAVES[@]:0:5}" >/dev/null
"$CHEMCTL" log verify --db short >/dev/null || fail "short log should be self-consistent"
expect_error "the log was truncated" "$CHEMCTL" log verify --db short --checkpoint cp.txt \
  --origin chemledger.test/log --verifier-key "$vkey"
# A log with the same size but one different entry: a rewrite.
"$CHEMCTL" log append --db forged --hex "${CT_LEAVES[@]:0:7}" ff >/dev/null
expect_error "the log was rewritten" "$CHEMCTL" log verify --db forged --checkpoint cp.txt \
  --origin chemledger.test/log --verifier-key "$vkey"

printf 'correct horse battery staple\n' >pass.txt
# A passphrase file others may read is refused, as a private key file is.
chmod 644 pass.txt
expect_error "passphrase file pass.txt has mode 0644" "$CHEMCTL" keygen --out sealed.key --passphrase-file pass.txt
chmod 600 pass.txt
"$CHEMCTL" keygen --out sealed.key --passphrase-file pass.txt >/dev/null
grep -q "^sealed-seed " sealed.key || fail "sealed key has no sealed-seed line"
grep -q "^kdf argon2id13 opslimit=3 memlimit=268435456 " sealed.key ||
  fail "sealed key not at Argon2id's moderate cost: $(grep ^kdf sealed.key)"
"$CHEMCTL" log checkpoint --db db --key sealed.key --passphrase-file pass.txt \
  --origin chemledger.test/log >/dev/null || fail "sealed key did not sign"
printf 'wrong\n' >wrong.txt
chmod 600 wrong.txt
expect_error "wrong passphrase" "$CHEMCTL" log checkpoint --db db --key sealed.key \
  --passphrase-file wrong.txt --origin chemledger.test/log

# --- reference check: a table file's every problem, by line and field -------
printf 'catalogue_no,name_zh,name_en,cas,un,hazard_class,packing_group,flags\n1,甲醇,Methanol,67-56-1,1230,3,II,重点监管\n2,"氰化钠","Sodium cyanide, solid",143-33-9,,,,剧毒;重点监管\n' >good.csv
"$CHEMCTL" reference check good.csv >out.txt || fail "reference check refused a good table"
grep -q "good.csv: a catalogue of 2 rows, no problems; SHA-256 $(sha256sum good.csv | cut -c1-64)" out.txt ||
  fail "reference check: $(cat out.txt)"
printf 'catalogue_no,name_zh,name_en,cas,un,hazard_class,packing_group,flags\n1,甲醇,,67-56-2,1230,3,II,\n1,,,,,,,有毒\n' >bad.csv
expect_error "4 problems in bad.csv" "$CHEMCTL" reference check bad.csv
grep -qF "line 2, field cas: '67-56-2' has check digit 2, expected 1" out.txt ||
  fail "reference check did not name the CAS: $(cat out.txt)"
grep -qF "line 3, field catalogue_no: 1 is also on line 2" out.txt ||
  fail "reference check did not name the repeated number: $(cat out.txt)"
grep -qF "line 3, field flags: unknown control flag '有毒'" out.txt ||
  fail "reference check did not name the flag: $(cat out.txt)"
expect_error "--table: 'blacklist'" "$CHEMCTL" reference check --table blacklist good.csv
# An import checks the file here first: a bad one is never sent (no server runs here).
import_flags="--version v1 --title t --issuer i --issued-on 2026-11-01 --document-number n --key sealed.key"
# shellcheck disable=SC2086
expect_error "4 problems in bad.csv" "$CHEMCTL" reference import $import_flags bad.csv
grep -qF "line 3, field flags: unknown control flag '有毒'" out.txt ||
  fail "reference import did not list the problems: $(cat out.txt)"
expect_error "--version is required" "$CHEMCTL" reference import --title t good.csv
# GB 18218 thresholds: a table of their own, checked the same way.
printf 'kind,key,name_zh,threshold_t,beta\ncas,67-56-1,甲醇,500,\ncategory,J1,测试,5,1.5\n' >thr.csv
"$CHEMCTL" reference check --table thresholds thr.csv >out.txt || fail "thresholds refused: $(cat out.txt)"
grep -q "thr.csv: a threshold table of 2 rows, no problems" out.txt || fail "thresholds check: $(cat out.txt)"
printf 'kind,key,name_zh,threshold_t,beta\ncas,67-56-2,甲醇,500,\n' >thr-bad.csv
expect_error "1 problem in thr-bad.csv" "$CHEMCTL" reference check --table thresholds thr-bad.csv
grep -qF "line 2, field key: " out.txt || fail "thresholds check did not name the key: $(cat out.txt)"
# shellcheck disable=SC2086
expect_error "--issued-on" "$CHEMCTL" reference import $import_flags --issued-on 2026-02-30 good.csv
printf 'cas,name_zh,note\n67-56-2,甲醇,\n' >list-bad.csv
expect_error "1 problem in list-bad.csv" "$CHEMCTL" reference check --table explosives-precursors \
  list-bad.csv
grep -qF "line 2, field cas: " out.txt || fail "control list check did not name the cas: $(cat out.txt)"
printf 'class_a,class_b,same_site,requirement\n3,5.1,no,不得同库\n' >seg.csv
"$CHEMCTL" reference check --table segregation seg.csv >out.txt || fail "segregation check failed"
grep -qF "a segregation table of 1 rows" out.txt || fail "segregation check: $(cat out.txt)"
expect_error "--table: 'nonesuch' is not a table" "$CHEMCTL" reference check --table nonesuch seg.csv
expect_error "--flags: unknown control flag" "$CHEMCTL" registry product decide-flags \
  91350100M000100Y43 M01 --flags 有毒 --reason r --key sealed.key

# --- help and usage -------------------------------------------------------
for cmd in "log append" "log root" "log entry" "log proof" "log consistency" "log verify" \
           "log checkpoint" "merkle root" "keygen" "key show" "checkpoint verify" \
           "reference check" "reference import" "reference list" "reference find" \
           "registry product pending" "registry product decide-flags" \
           "registry product flag-changes" "registry site add" "registry site load"; do
  # shellcheck disable=SC2086
  "$CHEMCTL" $cmd --help >out.txt || fail "'$cmd --help' failed"
  grep -q "^usage: chemctl $cmd" out.txt || fail "'$cmd --help' has no usage line"
done
"$CHEMCTL" --help >/dev/null || fail "--help failed"
expect_error "unknown command 'frobnicate'" "$CHEMCTL" frobnicate
expect_error "unknown option --bogus" "$CHEMCTL" log root --db db --bogus

if [[ $failures -ne 0 ]]; then echo "$failures failure(s)"; exit 1; fi
echo "all chemctl checks passed"
