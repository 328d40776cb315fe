"""Publishing a run on GitHub Actions: the runner's environment, the PR comment, and OIDC.

Each module is one thing the runner or GitHub offers; ``trailpolicy.action`` wires them to the
pipeline. Nothing here knows how policies are made.
"""
