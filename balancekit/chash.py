"""HAProxy's consistent-hash ring (lb_chash.c), shared by `hash-type consistent`
and `balance random`.

Each server owns `eweight` points (16 per unit of weight); point j of the server
with id `puid` sits at `full_hash(puid * 4096 + j)`.  A lookup takes the point at
or after the hash and the one before it and keeps the closer (the one before on a
tie).  A server going down removes only its own points, so only its keys move;
a weight change adds or removes its last points.  Active and backup servers live
on two rings, as in HAProxy.

The ring is kept as sorted `(key, seq, member index, point)` tuples (`seq` is the
insertion order HAProxy's tree uses between equal keys) plus flat `keys` /
`owners` lists rebuilt after a change, so a lookup is one `bisect`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence

from .algorithms.base import Algorithm, Member
from .hashing import full_hash

__all__ = ["ConsistentRing"]

MASK32 = 0xFFFFFFFF
SRV_EWGHT_RANGE = 256 * 16

_Node = tuple[int, int, int, int]


class _Tree:
    """One ring.  Besides the sorted nodes, `bounds`/`closest`/`position` answer
    "which point is closest to h" with a single bisect: between two neighbouring
    points p < q, HAProxy keeps p when `h - p <= q - h`, i.e. when
    `h <= (p + q) // 2`, so those midpoints (and the two around the wrap) split the
    32-bit space into one interval per closest point."""

    __slots__ = ("bounds", "closest", "keys", "nodes", "owners", "position")

    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.keys: list[int] = []
        self.owners: list[Member] = []
        self.bounds: list[int] = []
        self.closest: list[Member] = []
        self.position: list[int] = []

    def flatten(self, members: Sequence[Member]) -> None:
        keys = self.keys = [node[0] for node in self.nodes]
        owners = self.owners = [members[node[2]] for node in self.nodes]
        count = len(keys)
        if not count:
            self.bounds, self.closest, self.position = [], [], []
            return
        wrap = (keys[-1] + keys[0] + (1 << 32)) // 2
        self.bounds = [
            wrap - (1 << 32),
            *[(keys[k - 1] + keys[k]) // 2 for k in range(1, count)],
            wrap,
        ]
        self.closest = [owners[-1], *owners, owners[0]]
        self.position = [count - 1, *range(count), 0]


class ConsistentRing:
    """The active and backup trees of one backend, with HAProxy's lookups."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm
        self.members = algorithm.members
        n = len(self.members)
        self.trees = (_Tree(), _Tree())
        self.nodes_now = [0] * n
        self.nodes_tot = [0] * n
        self.node_keys: list[list[int]] = [[] for _ in range(n)]
        self.cur_usable = [False] * n
        self.cur_ew = [0] * n
        #: cumulative weights as HAProxy computes them once at start (bounded loads).
        self.cumulative = [0] * n
        self.counter = 0
        self.last: _Node | None = None
        #: backend-wide in-flight count (HAProxy's `px->served`), for bounded loads.
        self.served = 0

    def __repr__(self) -> str:
        act, bck = self.trees
        return f"<ConsistentRing act={len(act.nodes)} bck={len(bck.nodes)} points>"

    # -- building ----------------------------------------------------------------------

    def rebuild(self) -> None:
        """chash_init_server_tree: every server's points, usable servers inserted."""
        algorithm = self.algorithm
        algorithm.recount()
        self.trees = (_Tree(), _Tree())
        self.last = None
        self.counter = 0
        cumulative = {False: 0, True: 0}
        for member in self.members:
            i = member.index
            total = member.uweight * 16
            self.nodes_tot[i] = total
            self.node_keys[i] = [full_hash(member.puid * SRV_EWGHT_RANGE + j) for j in range(total)]
            self.nodes_now[i] = 0
            self.cur_usable[i] = member.usable
            self.cur_ew[i] = member.eweight
            if member.usable:
                self.cumulative[i] = cumulative[member.backup]
                cumulative[member.backup] += member.eweight
                self._adjust(member, bulk=True)
        for tree in self.trees:
            tree.nodes.sort()
            tree.flatten(self.members)

    def update(self, member: Member) -> None:
        """chash_update_server_weight (and the status up/down it delegates to)."""
        i = member.index
        old, new = self.cur_usable[i], member.usable
        if old and not new:
            self._remove_all(member)
        elif new:
            self._adjust(member)
        self.cur_usable[i] = new
        self.cur_ew[i] = member.eweight
        self.algorithm.recount()
        self.trees[member.backup].flatten(self.members)

    def _tree(self, member: Member) -> _Tree:
        return self.trees[1 if member.backup else 0]

    def _remove_points(self, member: Member, keep: int) -> None:
        """Remove points `keep..now-1`; moves `last` off them like chash_skip_node."""
        i = member.index
        tree = self._tree(member)
        nodes = tree.nodes
        if self.last is not None and self.last[2] == i and self.last[3] >= keep:
            pos = bisect_left(nodes, self.last)
            if pos < len(nodes) and nodes[pos] == self.last:
                survivor: _Node | None = None
                for step in range(1, len(nodes)):
                    node = nodes[(pos + step) % len(nodes)]
                    if not (node[2] == i and node[3] >= keep):
                        survivor = node
                        break
                self.last = survivor
        tree.nodes = [node for node in nodes if not (node[2] == i and node[3] >= keep)]
        self.nodes_now[i] = min(self.nodes_now[i], keep)

    def _remove_all(self, member: Member) -> None:
        self._remove_points(member, 0)

    def _adjust(self, member: Member, bulk: bool = False) -> None:
        """chash_queue_dequeue_srv: bring the server's point count to its eweight.
        `bulk` appends unsorted (the caller sorts once): the initial build."""
        i = member.index
        want = member.eweight
        if self.nodes_now[i] > want:
            self._remove_points(member, want)
        if self.nodes_tot[i] < want:
            self._remove_all(member)
            keys = self.node_keys[i]
            keys.extend(
                full_hash(member.puid * SRV_EWGHT_RANGE + j) for j in range(len(keys), want)
            )
            self.nodes_tot[i] = want
        nodes = self._tree(member).nodes
        while self.nodes_now[i] < want:
            j = self.nodes_now[i]
            self.counter += 1
            node = (self.node_keys[i][j], self.counter, i, j)
            if bulk:
                nodes.append(node)
            else:
                insort(nodes, node)
            self.nodes_now[i] = j + 1

    # -- lookups ---------------------------------------------------------------------------

    def _root(self) -> _Tree | Member | None:
        algorithm = self.algorithm
        if algorithm.srv_act:
            return self.trees[0]
        if algorithm.fbck is not None:
            return algorithm.fbck
        if algorithm.srv_bck:
            return self.trees[1]
        return None

    def eligible(self, member: Member) -> bool:
        """chash_server_is_eligible: bounded loads (Mirrokni, Thorup, Zadimoghaddam)."""
        algorithm = self.algorithm
        tot_weight = algorithm.tot_weight
        eweight = self.cur_ew[member.index]
        tot_slots = ((self.served + 1) * algorithm.options.hash_balance_factor + 99) // 100
        per_weight, remainder = divmod(tot_slots, tot_weight)
        cumulative = self.cumulative[member.index]
        slots = eweight * per_weight
        slots += ((cumulative + eweight) * remainder) // tot_weight - (
            cumulative * remainder
        ) // tot_weight
        return member.inflight < (slots or 1)

    def get_hash(self, hash_value: int, avoid: Member | None) -> Member | None:
        """chash_get_server_hash: the closest point to `hash_value`, then clockwise past
        `avoid` and (with hash-balance-factor) past servers above their bound."""
        root = self._root()
        if root is None or isinstance(root, Member):
            return root
        bounds = root.bounds
        if not bounds:
            return None
        slot = bisect_left(bounds, hash_value)
        if avoid is None and not self.algorithm.options.hash_balance_factor:
            return root.closest[slot]
        nxt = root.position[slot]
        owners = root.owners
        count = len(owners)
        member = owners[nxt]
        bounded = bool(self.algorithm.options.hash_balance_factor)
        loop = 0
        while member is avoid or (bounded and not self.eligible(member)):
            nxt += 1
            if nxt == count:
                nxt = 0
                loop += 1
                if loop > 1:
                    break
            member = owners[nxt]
        return member

    def get_next(self, avoid: Member | None) -> Member | None:
        """chash_get_next_server: walk the ring from the last node used (the
        round-robin fallback when a hash key is missing), skipping full servers."""
        root = self._root()
        if root is None or isinstance(root, Member):
            return root
        nodes = root.nodes
        count = len(nodes)
        if not count:
            self.last = None
            return None
        index: int | None = None
        if self.last is not None:
            pos = bisect_left(nodes, self.last)
            if pos < count and nodes[pos] == self.last:
                index = pos
        stop = index
        avoided: Member | None = None
        avoided_index = 0
        owners = root.owners
        while True:
            index = 0 if index is None or index + 1 >= count else index + 1
            self.last = nodes[index]
            if stop is None:
                stop = index
            member = owners[index]
            if not member.full():
                if member is not avoid:
                    return member
                avoided, avoided_index = member, index
            if index == stop:
                break
        if avoided is not None:
            self.last = nodes[avoided_index]
        return avoided
