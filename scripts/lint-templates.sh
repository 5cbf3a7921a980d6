#!/usr/bin/env bash
# `npm run lint:templates`: lints what would be deployed with cfn-lint, AWS's CloudFormation linter: the
# single-account template, an organisation-mode template at the longest stage allowed (the longest names), the
# member stack, and the single-account template with findings in Security Hub (securityHub=true). Offline, no
# credentials; `.ci/run` runs it after the tests.
# Fails on any error, and on any warning but these two, which come from the framework or are by design:
#   W3005  osls makes each function DependsOn its role, which its `Role: !GetAtt` already implies (redundant, harmless)
#   W8003  HasAlertEmail compares the package-time `alertEmail` with '': without an email it is constant, on purpose
set -euo pipefail
cd "$(dirname "$0")/.."
export SLS_TELEMETRY_DISABLED=1 AWS_ACCESS_KEY_ID='' AWS_SECRET_ACCESS_KEY='' AWS_PROFILE=''

# The CI machines have cfn-lint (pyenv); a fresh machine installs it.
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo 'lint-templates: cfn-lint is not on PATH, installing it with pip' >&2
  timeout 600 python3 -m pip install --quiet --user 'cfn-lint==1.51.0' || { echo 'lint-templates: cannot install cfn-lint (pip install cfn-lint)' >&2; exit 1; }
  PATH="$(python3 -m site --user-base)/bin:$PATH"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

package() { # NAME STAGE [serverless args…]: packages into $out/NAME, showing the output only if it fails
  local name=$1 stage=$2
  shift 2
  mkdir -p "$out/$name.tmp"
  local status=0
  # Waits for another packaging of this checkout to end (scripts/fresh-work-folder.cjs's lock), then 20-60 s.
  TMPDIR="$out/$name.tmp" timeout 600 node_modules/.bin/serverless package --stage "$stage" --package "$out/$name" "$@" >"$out/$name.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$out/$name.log" >&2
    echo "lint-templates: packaging $name (stage $stage) failed" >&2
    exit 1
  fi
}

# Any well-formed id: it only selects organisation mode.
org=(--param 'organizationId=o-exampleorg1')

package single dev
# The longest stage organisation mode allows, computed from a packaged template's own names (scripts/name-limits.cjs).
package org-probe dev "${org[@]}"
longest=$(node scripts/name-limits.cjs max-stage "$out/org-probe/cloudformation-template-update-stack.json" dev)
package org "$(printf 'x%.0s' $(seq "$longest"))" "${org[@]}"
timeout 120 node_modules/.bin/tsx scripts/member-template.ts --stdout >"$out/member-stack.json"
package security-hub dev --param 'securityHub=true'

echo "cfn-lint $(cfn-lint --version | awk '{print $2}'): single-account (stage dev), organisation mode (stage of ${longest} characters, the longest allowed), member stack, securityHub=true"
timeout 600 cfn-lint --non-zero-exit-code warning --ignore-checks W3005 W8003 -- \
  "$out/single/cloudformation-template-update-stack.json" \
  "$out/org/cloudformation-template-update-stack.json" \
  "$out/member-stack.json" \
  "$out/security-hub/cloudformation-template-update-stack.json"
echo 'lint-templates: no errors, no unexpected warnings'
