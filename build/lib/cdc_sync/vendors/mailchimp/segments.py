"""CRM segments as Mailchimp static segments, pure: the segment's name there, what to add and
remove so the platform's members equal the CRM's, in calls of at most 500 of each, and whether
the counts agree afterwards.

Mailchimp's static segments and tags are one thing; a CRM tag is letters, digits and `-` only, so
the `segment:` prefix keeps a segment from ever merging with a tag of the same name."""

from collections.abc import Iterable
from dataclasses import dataclass

from cdc_sync.mapping.normalize import email_key

MAX_CHANGES = 500  # members_to_add and members_to_remove, each, per call
PREFIX = "segment:"


def vendor_name(crm_name: str) -> str:
    return f"{PREFIX}{crm_name}"[:100]  # Mailchimp's limit on a segment name


@dataclass(frozen=True)
class MemberChanges:
    to_add: tuple[str, ...]
    to_remove: tuple[str, ...]

    @classmethod
    def between(cls, crm: Iterable[str], vendor: Iterable[str]) -> "MemberChanges":
        wanted, present = {email_key(e) for e in crm}, {email_key(e) for e in vendor}
        return cls(tuple(sorted(wanted - present)), tuple(sorted(present - wanted)))

    def calls(self) -> list[dict[str, list[str]]]:
        """The bodies of `POST /3.0/lists/{list_id}/segments/{segment_id}`, ≤ 500 of each."""
        count = max(len(self.to_add), len(self.to_remove))
        return [
            {
                "members_to_add": list(self.to_add[start : start + MAX_CHANGES]),
                "members_to_remove": list(self.to_remove[start : start + MAX_CHANGES]),
            }
            for start in range(0, count, MAX_CHANGES)
        ]


def counts_agree(crm_count: int, vendor_count: int, tolerance: float) -> bool:
    """Whether the platform's member count is within `tolerance` (a share of the CRM's count,
    0.01 = 1 %) of the CRM's; an empty segment must be empty there too."""
    return abs(crm_count - vendor_count) <= tolerance * crm_count
