#!/usr/bin/env bash
# Build the action's image and run it exactly as the GitHub runner runs a container action:
# workspace at /github/workspace (the working directory), the file-command files under
# /github/file_commands, INPUT_* variables with hyphens, passed by name with -e.
#
# Needs a running Docker engine; not part of the default test run. Without a registry, set
# PYTHON_IMAGE to a local Python 3.11 image, or let this script build one from debootstrap
# (Debian bookworm's python3 is 3.11, matching requirements-action.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

docker info >/dev/null 2>&1 || { echo "smoke: no Docker engine" >&2; exit 1; }

if [[ -z "${PYTHON_IMAGE:-}" ]]; then
  PYTHON_IMAGE=trailpolicy-smoke-python:bookworm
  if ! docker image inspect "$PYTHON_IMAGE" >/dev/null 2>&1; then
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
      bookworm "$rootfs" >/dev/null
    # This test-only base trusts the host's CA bundle, so that the build's pip reaches the
    # package index from behind a TLS-intercepting proxy as the host's pip does.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    tar -C "$rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' - "$PYTHON_IMAGE"
    rm -rf "$rootfs"
  fi
fi

image=trailpolicy-action:smoke
docker build --quiet --network host --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" --tag "$image" . >/dev/null
echo "smoke: image $(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MiB", $1/1048576}')"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/workspace" "$work/file_commands" "$work/workflow"
cp -r examples "$work/workspace/"
: > "$work/file_commands/set_output"
: > "$work/file_commands/step_summary"
printf '{"ref": "refs/heads/main"}' > "$work/workflow/event.json"

# The runner passes each variable by name (-e NAME) from its own environment. Names with a hyphen
# cannot be set by a shell's export, so env(1) sets them for the docker client.
vars=(
  "INPUT_START-TIME=2023-07-10T11:00:00Z" "INPUT_END-TIME=2023-07-10T13:00:00Z"
  "INPUT_IDENTITIES=arn:aws:iam::123837392027:user/bert-jan" "INPUT_SOURCE=examples/logs"
  "INPUT_BASELINE=examples/baseline/bert-jan.json" "INPUT_OUTPUT-DIR=trailpolicy-out"
  "INPUT_FAIL-ON-DRIFT=any" "INPUT_COMMENT=on-drift"
  "GITHUB_WORKSPACE=/github/workspace" "GITHUB_OUTPUT=/github/file_commands/set_output"
  "GITHUB_STEP_SUMMARY=/github/file_commands/step_summary" "GITHUB_EVENT_PATH=/github/workflow/event.json"
  "GITHUB_REPOSITORY=o/r" "GITHUB_ACTIONS=true"
)
names=()
for v in "${vars[@]}"; do names+=(-e "${v%%=*}"); done

env "${vars[@]}" docker run --rm --network none --workdir /github/workspace "${names[@]}" \
  -v "$work/file_commands":/github/file_commands -v "$work/workflow":/github/workflow \
  -v "$work/workspace":/github/workspace "$image"

cat "$work/file_commands/set_output"
grep -qx 'drift=false' "$work/file_commands/set_output"
grep -qx 'policies-path=trailpolicy-out/policies' "$work/file_commands/set_output"
grep -qi 'no drift' "$work/file_commands/step_summary"
test -s "$work/workspace/trailpolicy-out/policies/123837392027-user-bert-jan.json"
test -s "$work/workspace/trailpolicy-out/drift.json"
echo "smoke: ok"
