"""The Docker action's entry point: ``trailpolicy.action.main()`` and nothing else.

The image runs this with an exec-form ENTRYPOINT, so the runner's ``INPUT_START-TIME``-style
variables (hyphens kept) reach Python unchanged; a shell in between would drop them.
"""

import sys

from trailpolicy.action import main

if __name__ == "__main__":
    sys.exit(main())
