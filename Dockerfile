# The trailpolicy GitHub Action. The runner builds this file on every run, with the action's
# repository as the build context (see .dockerignore).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements-action.txt /tmp/requirements-action.txt
# Wheels only: no compiler in the image, and exactly the pinned versions the tests ran against.
RUN python -m venv /opt/trailpolicy \
 && /opt/trailpolicy/bin/pip install --only-binary=:all: --requirement /tmp/requirements-action.txt \
 && /opt/trailpolicy/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/trailpolicy /opt/trailpolicy
COPY src/trailpolicy /opt/trailpolicy/src/trailpolicy
COPY entrypoint.py /opt/trailpolicy/entrypoint.py
ENV PATH=/opt/trailpolicy/bin:$PATH \
    PYTHONPATH=/opt/trailpolicy/src \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# No USER: the runner mounts the workspace and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files owned by
# its own user and runs container actions as root, the image's default user, so that they can
# write them. A non-root user here could not write the outputs or the output directory.
# Exec form: the runner's INPUT_START-TIME-style variables (hyphens kept) reach Python unchanged.
ENTRYPOINT ["/opt/trailpolicy/bin/python", "/opt/trailpolicy/entrypoint.py"]
