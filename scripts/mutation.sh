#!/usr/bin/env bash
# Mutation testing of the modules whose bugs would corrupt a result, one module at a time against its own
# focused tests (mutmut 3, docs/mutation.md). The kept record is docs/mutation.json.
#
#   scripts/mutation.sh --json               print the kept record (no run)
#   scripts/mutation.sh --list               the modules and their focused tests
#   scripts/mutation.sh --run [MODULE...]    run (or resume) MODULE (e.g. rl.losses), or every module, and update
#                                            docs/mutation.json with its kill rate and survivors
#
# A run works in build/mutation/<module>/ (mutmut copies the tree into mutants/ there and runs pytest on it);
# rerunning resumes: mutants already tested keep their result unless their function changed. mutmut runs from
# .venv-mutation, made on first use: mutmut itself plus a path to .venv's packages (torch, math-verify, ...), so
# .venv is never modified. MUTATION_JOBS (default 1) sets mutmut's parallel workers; MAIN_VENV (default .venv) and
# MUTATION_VENV (default .venv-mutation) name the two environments. export.verl runs from VERL_VENV (default
# .venv-verl, `make test-engines` makes it) through MUTATION_VENV-verl, with the slow test that runs verl's own
# config check (validate_with_verl is reached by no other test); without that venv it runs from .venv, and those
# mutants count as "no tests".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RECORD=docs/mutation.json
MUTMUT_VERSION=3.8.1
VENV=${MUTATION_VENV:-.venv-mutation}
MAIN_VENV=${MAIN_VENV:-.venv}
VERL_VENV=${VERL_VENV:-.venv-verl}

# module -> its focused tests (space separated); the order is the order of a full run.
declare -A TESTS=(
  [rl.losses]="tests/test_rl_losses.py tests/test_rl_losses_edges.py"
  [rl.advantages]="tests/test_rl_advantages.py tests/test_rl_advantages_edges.py"
  [metrics.passk]="tests/test_metrics_passk.py tests/test_metrics_edges.py"
  [metrics.bootstrap]="tests/test_metrics_bootstrap.py tests/test_metrics_edges.py"
  [studies.paired]="tests/test_studies_findings.py tests/test_studies_edges.py"
  [studies.verdict]="tests/test_studies_verdict.py tests/test_studies_edges.py"
  [grading.extract]="tests/test_grading_extract.py tests/test_grading_multibox.py tests/test_grading_extract_edges.py"
  [backends.trl_config]="tests/test_trl_backend.py tests/test_trl_plan_fields.py tests/test_planted_bugs.py"
  [export.verl]="tests/test_export_verl.py tests/test_export_verl_run.py"
  [grading.sandbox:_command]="tests/test_code_sandbox.py"
)
# Tests left out of a module's run (mutmut needs them green on the unmutated copy): the planted-bug list reads the
# source text, which mutmut rewrites. export.verl leaves out the Ray reward-manager tests (they test verl_reward.py,
# start Ray, and would run for every export_verl mutant the fast tests miss) and the install-lines check (it reads
# the Makefile and docs, which a run does not copy).
PLANTED_LIST="--deselect=tests/test_planted_bugs.py::test_every_planted_bug_still_applies_and_names_existing_tests"
declare -A DESELECT=(
  [backends.trl_config]="$PLANTED_LIST"
  [export.verl]="--deselect=tests/test_export_verl.py::test_reward_manager_keys_random_draws_by_step_and_sample_and_sees_whole_groups
                 --deselect=tests/test_export_verl.py::test_training_rows_of_a_split_named_test_get_the_training_reward_in_verls_manager
                 --deselect=tests/test_export_verl.py::test_the_install_lines_name_every_package_verls_wheel_leaves_out"
)
# Modules run from an engine's venv, with their slow tests (see the header).
declare -A ENGINE=([export.verl]=verl)
ORDER=(rl.losses rl.advantages metrics.passk metrics.bootstrap studies.paired studies.verdict grading.extract
       backends.trl_config export.verl grading.sandbox:_command)

die() { echo "scripts/mutation.sh: $*" >&2; exit 2; }

setup_venv() {
  # setup_venv MUTATION_VENV PACKAGES_VENV: mutmut in the first, reading the second's packages.
  local venv=$1 packages=$2
  [ -x "$venv/bin/mutmut" ] && return
  [ -x "$packages/bin/python" ] || die "no $packages: run \`make setup\` first (or set MAIN_VENV)"
  local base site main
  base=$("$packages/bin/python" -c 'import sys; print(sys._base_executable)')  # the same Python as the packages
  "$base" -m venv "$venv"
  "$venv/bin/pip" install -q "mutmut==$MUTMUT_VERSION"
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  main=$("$packages/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # A plain path line: .venv's own .pth files (the editable install of this repo) are not read, so the tests
  # import the mutated copy under mutants/src and never the original.
  echo "$main" > "$site/_rlvr_lab_main_venv.pth"
}

run_module() {
  # MODULE or MODULE:function (only that function's mutants: the sandbox's command line, not its whole module).
  local module=$1 tests=${TESTS[$1]:-}
  [ -n "$tests" ] || die "unknown module '$module'; --list shows the modules"
  local dotted=${module%%:*} function=""
  [ "$dotted" = "$module" ] || function=${module#*:}
  local source="src/rlvr_lab/${dotted//.//}.py"
  local only=() prefix="rlvr_lab.$dotted."
  [ -z "$function" ] || { prefix="rlvr_lab.$dotted.x_${function}__mutmut_"; only=("$prefix*"); }
  [ -f "$source" ] || die "$source: not found; update the module table in scripts/mutation.sh"
  local work="build/mutation/$dotted"
  mkdir -p "$work"
  # The environment: VENV (reading MAIN_VENV's packages), or an engine's venv with the slow tests on.
  local venv=$VENV markers="not slow" engine=${ENGINE[$module]:-} packages=""
  [ -z "$engine" ] || { packages="${engine^^}_VENV"; packages=${!packages}; }
  if [ -n "$engine" ] && [ -x "$packages/bin/python" ]; then
    setup_venv "$VENV-$engine" "$packages"
    venv="$VENV-$engine" markers="slow or not slow"
  elif [ -n "$engine" ]; then
    echo "mutation: no $packages (${engine^^}_VENV): $module runs without its engine's tests (their mutants: no tests)"
  fi
  # Fresh copies of the sources and tests; under mutants/, every file but the mutated module is re-copied by
  # mutmut (it skips files that exist), so a stale copy of a helper module cannot survive a code change.
  # The commit measured on is the one copied now (+dirty when src/ or tests/ differ from it).
  local commit
  commit=$(git rev-parse HEAD)$(git diff --quiet HEAD -- src tests || echo +dirty)
  rm -rf "$work/src" "$work/tests"
  cp -a src tests "$work/"
  if [ -d "$work/mutants/src" ]; then
    find "$work/mutants/src" -name '*.py' ! -path "*/$source" -delete
  fi
  local selection
  selection=$(printf '"%s", ' $tests ${DESELECT[$module]:-})
  cat > "$work/pyproject.toml" <<TOML
# Written by scripts/mutation.sh for one module; edit the script, not this file.
[tool.mutmut]
source_paths = ["src"]
only_mutate = ["$source"]
pytest_add_cli_args_test_selection = [${selection%, }]
pytest_add_cli_args = ["-p", "no:cacheprovider"]
# A mutant may loop forever (a loop counter turned around): stop it after 8 × (its tests' time + 2 s) of CPU,
# not mutmut's default 30 ×, which on a shared 2-core machine means many minutes per such mutant.
timeout_multiplier = 4.0
timeout_constant = 2.0

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-m '$markers'"
markers = ["slow: checks that take minutes"]
TOML
  echo "mutation: $module against $tests (log: $work/mutmut.log)"
  local started=$SECONDS status=0
  (cd "$work" && RLVR_DATA_DIR="${RLVR_DATA_DIR:-$ROOT/../shared/data}" nice -n 5 \
     "$venv/bin/mutmut" run --max-children "${MUTATION_JOBS:-1}" "${only[@]}" > mutmut.log 2>&1) || status=$?
  [ $status -eq 0 ] || { tail -20 "$work/mutmut.log" | tr '\r' '\n' | tail -20; die "mutmut failed on $module"; }
  # mutmut keeps a survivor's result when only the tests changed: test the survivors again, by name.
  local survivors
  survivors=$("$venv/bin/python" -c 'import json, sys
codes = json.load(open(sys.argv[1]))["exit_code_by_key"]
print(" ".join(k for k, v in codes.items() if v in (0, 5, 33) and k.startswith(sys.argv[2])))' \
    "$work/mutants/$source.meta" "$prefix")
  if [ -n "$survivors" ]; then
    # shellcheck disable=SC2086 # one argument per mutant name
    (cd "$work" && RLVR_DATA_DIR="${RLVR_DATA_DIR:-$ROOT/../shared/data}" nice -n 5 \
       "$venv/bin/mutmut" run --max-children "${MUTATION_JOBS:-1}" $survivors >> mutmut.log 2>&1) || status=$?
    [ $status -eq 0 ] || { tail -20 "$work/mutmut.log" | tr '\r' '\n' | tail -20; die "mutmut failed on $module"; }
  fi
  "$VENV/bin/python" scripts/mutation_record.py "$RECORD" "$module" "$work" "$source" $tests \
    --seconds $((SECONDS - started)) --commit "$commit" --function "$function"
}

case "${1:-}" in
  --json) python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$RECORD" ;;
  --list) for m in "${ORDER[@]}"; do echo "$m: ${TESTS[$m]}"; done ;;
  --run)
    shift
    setup_venv "$VENV" "$MAIN_VENV"
    VENV=$(cd "$VENV" && pwd)
    modules=("$@")
    [ ${#modules[@]} -gt 0 ] || modules=("${ORDER[@]}")
    for m in "${modules[@]}"; do run_module "$m"; done ;;
  *) die "usage: scripts/mutation.sh --json | --list | --run [MODULE...]" ;;
esac
