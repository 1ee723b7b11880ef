#!/usr/bin/env bash
# Fails when a token-path benchmark executes more instructions per
# operation than its budget in bench/budgets. Counts with
# bench/instructions.sh (valgrind), which is deterministic: the count does
# not depend on the machine's load, so a budget can be tight.
#
#   bench/budget.sh            # every budget
#
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
while read -r pkg bench budget _; do
	[[ -z "$pkg" || "$pkg" == \#* ]] && continue
	# a short run, tried more often: valgrind kills a run now and then (see
	# count in instructions.sh), and a shorter one is killed less often
	line=$(N=5000 ATTEMPTS=12 bench/instructions.sh "$pkg $bench" | tail -n1)
	got=$(awk '{ print $3 }' <<<"$line")
	if [[ ! "$got" =~ ^[0-9]+$ ]]; then
		echo "bench/budget.sh: no count for $pkg $bench: $line" >&2
		exit 1
	fi
	if ((got > budget)); then
		echo "OVER BUDGET  $pkg $bench: $got instructions per operation, budget $budget (bench/budgets)"
		fail=1
	else
		echo "within budget  $pkg $bench: $got instructions per operation, budget $budget"
	fi
done <bench/budgets
exit $fail
