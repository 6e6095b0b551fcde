#!/usr/bin/env bash
# Finding codes: every code in include/picklejail_codes.def has an entry in
# docs/rules.md, every documented code exists in the .def, and every
# documented code was emitted by some test through the CLI (the end-to-end
# helpers record codes in build/test-codes-seen/; this suite runs last).
# Codes no CLI test can trigger are listed, with a reason, in
# tests/codes-exempt.txt.
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
def_codes=$(sed -nE 's/^PJ_CODE\([A-Z0-9_]+, *([0-9]+),.*/PJ\1/p' include/picklejail_codes.def | sort -u)
doc_codes=$(sed -nE 's/^## (PJ[0-9]+) .*/\1/p' docs/rules.md | sort -u)
seen=$(cat build/test-codes-seen/*.txt 2>/dev/null | grep -oE 'PJ[0-9]+' | sort -u)
exempt=$(grep -E '^PJ[0-9]+ +[^ ]' tests/codes-exempt.txt 2>/dev/null | awk '{print $1}' | sort -u)

if [ -z "$def_codes" ]; then
  echo "no codes found in include/picklejail_codes.def"; fail=$((fail + 1))
fi
undocumented=""
for c in $def_codes; do
  if echo "$doc_codes" | grep -qx "$c"; then pass=$((pass + 1)); else fail=$((fail + 1)); undocumented="$undocumented $c"; fi
done
[ -n "$undocumented" ] && echo "codes without an entry in docs/rules.md:$undocumented"
stale=""
for c in $doc_codes; do
  if echo "$def_codes" | grep -qx "$c"; then pass=$((pass + 1)); else fail=$((fail + 1)); stale="$stale $c"; fi
done
[ -n "$stale" ] && echo "docs/rules.md documents codes not in picklejail_codes.def:$stale"
dup=$(sed -nE 's/^## (PJ[0-9]+) .*/\1/p' docs/rules.md | sort | uniq -d | tr '\n' ' ')
if [ -n "$dup" ]; then echo "docs/rules.md documents codes twice: $dup"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
for c in $exempt; do
  if ! echo "$def_codes" | grep -qx "$c"; then echo "tests/codes-exempt.txt lists unknown code $c"; fail=$((fail + 1)); fi
done
unseen=""
for c in $doc_codes; do
  if echo "$seen" | grep -qx "$c" || echo "$exempt" | grep -qx "$c"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); unseen="$unseen $c"
  fi
done
if [ -n "$unseen" ]; then
  echo "documented codes no test emitted through the CLI (build/test-codes-seen/):$unseen"
  [ -z "$seen" ] && echo "(nothing recorded: run the whole suite with make check)"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
