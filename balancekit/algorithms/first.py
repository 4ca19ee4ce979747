"""`balance first`: fill servers in id order, each up to its maxconn (lb_fas.c).

Used to keep as few servers busy as possible (e.g. to power the rest down); only
meaningful with `maxconn` on servers, otherwise the lowest id takes everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import register
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request


@register("first")
class First(Algorithm):
    _order: list[Member]

    def rebuild(self) -> None:
        self._order = sorted(self.eligible_group(), key=lambda m: m.puid)

    def update(self, member: Member) -> None:
        self.rebuild()

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        avoided = None
        for member in self._order:
            if not member.full():
                if member is not avoid:
                    return member
                avoided = member
        return avoided
