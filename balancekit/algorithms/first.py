"""`balance first`: fill servers in id order, each up to its maxconn (lb_fas.c).

Used to keep as few servers busy as possible (e.g. to power the rest down); only
meaningful with `maxconn` on servers, otherwise the lowest id takes everything.
Weights only matter as 0 (out) or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import register
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request


@register("first")
class First(Algorithm):
    fifo_backend_queue = True

    def setup(self) -> None:
        self._orders: tuple[list[Member], list[Member]] = ([], [])

    def rebuild(self) -> None:
        self.recount()
        usable = sorted((m for m in self.members if m.usable), key=lambda m: m.puid)
        self._orders = (
            [m for m in usable if not m.backup],
            [m for m in usable if m.backup],
        )

    def update(self, member: Member) -> None:
        self.rebuild()

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        if self.srv_act:
            order = self._orders[0]
        elif self.fbck is not None:
            return self.fbck
        elif self.srv_bck:
            order = self._orders[1]
        else:
            return None
        avoided = None
        for member in order:
            if not member.full():
                if member is not avoid:
                    return member
                avoided = member
        return avoided
