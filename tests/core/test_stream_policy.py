"""balancekit.stream: one stream's retry/redispatch decisions, as HAProxy 2.6 takes them.

No sockets, no sleeps: events in, decisions out.  The expectations cite the
HAProxy function each one follows (src/backend.c back_handle_st_cer,
include/haproxy/stream.h stream_choose_redispatch, src/http_ana.c do_l7_retry).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancekit.algorithms import ALGORITHM_MODULES
from balancekit.stream import (
    ALL_RETRYABLE_ERRORS,
    TRANSITIONS,
    Assigned,
    AwaitGrant,
    ClientAbort,
    Closed,
    Connect,
    ConnectFailed,
    ConnectOk,
    Count,
    Deliver,
    EmptyResponse,
    Event,
    Finished,
    Forward,
    GiveUp,
    Granted,
    JunkResponse,
    NoServer,
    PauseElapsed,
    Pick,
    Queued,
    QueueTimeout,
    Response,
    ResponseTimeout,
    Retry,
    RetryPolicy,
    State,
    StreamPolicy,
    StreamPolicyError,
    is_deterministic,
    is_replayable,
    parse_retry_on,
    redispatch_due,
    turnaround_delay,
)

EVENTS: list[Event] = [
    Assigned("s1"),
    Queued("s1"),
    Granted("s1"),
    NoServer(),
    QueueTimeout(),
    ConnectOk(),
    ConnectFailed("error"),
    PauseElapsed(),
    Response(200),
    EmptyResponse(),
    JunkResponse(),
    ResponseTimeout(),
    ClientAbort(),
    Closed(),
]


def policy_in(state: State, **kw: object) -> StreamPolicy:
    """A fresh policy driven into `state` through legal events."""
    retry = RetryPolicy(retries=3, redispatch=0, retry_on=parse_retry_on(["all-retryable-errors"]))
    p = StreamPolicy(retry, replayable=True, **kw)  # type: ignore[arg-type]
    p.start()
    steps: dict[State, list[Event]] = {
        State.PICK: [],
        State.QUEUED: [Queued("s1")],
        State.CONNECTING: [Assigned("s1")],
        State.TURNAROUND: [Assigned("s1"), ConnectFailed("error")],
        State.ESTABLISHED: [Assigned("s1"), ConnectOk()],
        State.DONE: [Assigned("s1"), ConnectOk(), Closed()],
        State.FAILED: [NoServer()],
    }
    for event in steps[state]:
        p.handle(event)
    assert p.state is state
    return p


# --- the transition table ----------------------------------------------------

PAIRS = [(state, event) for state in State for event in EVENTS]


@pytest.mark.parametrize(
    ("state", "event"),
    PAIRS,
    ids=[f"{s.name}-{type(e).__name__}" for s, e in PAIRS],
)
def test_every_pair_follows_the_table(state: State, event: Event) -> None:
    p = policy_in(state)
    targets = TRANSITIONS.get((state, type(event)))
    if targets is None:
        with pytest.raises(StreamPolicyError, match=f"{type(event).__name__}.*{state.name}"):
            p.handle(event)
        assert p.state is state  # a refused event changes nothing
    else:
        p.handle(event)
        assert p.state in targets


def test_terminal_states_accept_nothing() -> None:
    for state in (State.DONE, State.FAILED):
        assert not [key for key in TRANSITIONS if key[0] is state]


def test_start_only_once() -> None:
    p = policy_in(State.CONNECTING)
    with pytest.raises(StreamPolicyError):
        p.start()


# --- connect, queue, give up -------------------------------------------------


def test_happy_path_tcp() -> None:
    p = StreamPolicy(RetryPolicy())
    assert p.start() == Pick()
    assert p.handle(Assigned("s1")) == Connect("s1")
    assert p.handle(ConnectOk()) == Forward("s1")
    assert p.handle(Closed()) == Finished()
    assert p.state is State.DONE and p.retries == 0


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([NoServer()], GiveUp(503, "SC", count=Count(econ=1))),
        ([Queued("s1"), QueueTimeout()], GiveUp(503, "sQ", count=Count(econ=1, econ_server="s1"))),
        ([Queued(None), QueueTimeout()], GiveUp(503, "sQ", count=Count(econ=1))),
        ([Queued("s1"), ClientAbort()], GiveUp(None, "CQ")),
        ([Assigned("s1"), ClientAbort()], GiveUp(None, "CC")),
    ],
    ids=[
        "no-server",
        "queue-timeout-server",
        "queue-timeout-backend",
        "abort-queued",
        "abort-conn",
    ],
)
def test_give_up_before_connecting(events: list[Event], expected: GiveUp) -> None:
    p = StreamPolicy(RetryPolicy())
    p.start()
    for event in events[:-1]:
        p.handle(event)
    assert p.handle(events[-1]) == expected
    assert p.finished


def test_queue_then_granted() -> None:
    p = StreamPolicy(RetryPolicy())
    p.start()
    assert p.handle(Queued(None)) == AwaitGrant()
    assert p.handle(Granted("s2")) == Connect("s2")
    assert p.server == "s2"


# --- retries and the turn-around pause ----------------------------------------


@pytest.mark.parametrize(
    ("timeout_connect", "pause"),
    [(None, 1.0), (5.0, 1.0), (1.0, 1.0), (0.25, 0.25), (0.0, 1.0)],
    ids=["unset", "long", "equal", "short", "zero-means-unset"],
)
def test_turnaround_is_min_one_second_timeout_connect(
    timeout_connect: float | None, pause: float
) -> None:
    assert turnaround_delay(timeout_connect) == pause
    p = StreamPolicy(RetryPolicy(timeout_connect=timeout_connect))
    p.start()
    p.handle(Assigned("s1"))
    decision = p.handle(ConnectFailed("error"))
    assert decision == Retry(pause, False, "s1", count=Count("s1", wretr=1))
    assert p.state is State.TURNAROUND
    assert p.handle(PauseElapsed()) == Connect("s1", same_server=True)


@pytest.mark.parametrize(
    ("failure", "redispatch", "active", "pause"),
    [
        (ConnectFailed("error"), 0, 2, True),
        (ConnectFailed("timeout"), 0, 2, False),  # a timeout already waited
        (ConnectFailed("error", reused=True), 0, 2, False),  # a dead idle connection
        (ConnectFailed("error"), 1, 2, False),  # redispatching: another server
        (ConnectFailed("error"), 1, 1, True),  # redispatching, but only one server
    ],
    ids=["error", "timeout", "reused", "redispatch", "redispatch-alone"],
)
def test_when_the_pause_is_taken(
    failure: ConnectFailed, redispatch: int, active: int, pause: bool
) -> None:
    p = StreamPolicy(RetryPolicy(redispatch=redispatch))
    p.start()
    p.handle(Assigned("s1"))
    failure = ConnectFailed(failure.kind, active_servers=active, reused=failure.reused)
    decision = p.handle(failure)
    assert isinstance(decision, Retry)
    assert (decision.after > 0) is pause
    assert (p.state is State.TURNAROUND) is pause
    if not pause:
        assert decision.next is not None


@pytest.mark.parametrize(
    ("retries", "kind", "termination"),
    [(0, "error", "SC"), (1, "timeout", "sC"), (3, "error", "SC"), (3, "timeout", "sC")],
    ids=["retries0", "retries1-timeout", "retries3-error", "retries3-timeout"],
)
def test_retries_allow_retries_plus_one_attempts(retries: int, kind: str, termination: str) -> None:
    p = StreamPolicy(RetryPolicy(retries=retries))
    decision = p.start()
    attempts = 0
    wretr = 0
    while True:
        if isinstance(decision, Pick):
            decision = p.handle(Assigned("s1"))
        assert isinstance(decision, Connect)
        attempts += 1
        decision = p.handle(ConnectFailed(kind))  # type: ignore[arg-type]
        wretr += decision.count.wretr
        if isinstance(decision, GiveUp):
            break
        assert isinstance(decision, Retry)
        decision = decision.next if decision.next is not None else p.handle(PauseElapsed())
    assert attempts == retries + 1
    assert wretr == retries
    assert decision == GiveUp(503, termination, count=Count(econ=1, econ_server="s1"))


def test_no_conn_failure_in_retry_on_means_no_connect_retry() -> None:
    p = StreamPolicy(RetryPolicy(retry_on=parse_retry_on(["503"])))
    p.start()
    p.handle(Assigned("s1"))
    assert p.handle(ConnectFailed("error")) == GiveUp(
        503, "SC", count=Count(econ=1, econ_server="s1")
    )


# --- redispatch ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "due"),
    [
        (0, []),
        (1, [1, 2, 3]),
        (2, [2]),
        (3, [3]),
        (-1, [3]),  # the plain `option redispatch`: the last retry
        (-2, [2]),
        (-3, [1, 2, 3]),
        (-4, []),  # modulus 0: would crash HAProxy, never here
        (-5, [1, 2, 3]),  # C's % by -1
    ],
    ids=lambda v: str(v),
)
def test_redispatch_interval_with_retries_3(interval: int, due: list[int]) -> None:
    assert [n for n in (1, 2, 3) if redispatch_due(interval, n, 3)] == due


def _drive(p: StreamPolicy, servers: list[str], **failure: object) -> list[Retry]:
    """Fail every attempt; `servers` are what the balancer assigns on each Pick."""
    picks = iter(servers)
    retries: list[Retry] = []
    decision = p.start()
    while True:
        if isinstance(decision, Pick):
            decision = p.handle(Assigned(next(picks)))
        assert isinstance(decision, Connect)
        decision = p.handle(ConnectFailed("timeout", **failure))  # type: ignore[arg-type]
        if isinstance(decision, GiveUp):
            return retries
        assert isinstance(decision, Retry)
        retries.append(decision)
        assert decision.next is not None
        decision = decision.next


@pytest.mark.parametrize(
    ("interval", "redispatched_on"),
    [(1, [1, 2, 3]), (-1, [3]), (2, [2]), (3, [3])],
    ids=["every", "last", "every-2nd", "every-3rd"],
)
def test_hash_backend_redispatches_only_on_the_interval(
    interval: int, redispatched_on: list[int]
) -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=interval), deterministic=True)
    retries = _drive(p, ["s1"] * 8, active_servers=3)
    assert [n for n, r in enumerate(retries, 1) if r.redispatch] == redispatched_on


def test_hash_backend_keeps_a_usable_server_without_redispatch() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=0), deterministic=True)
    retries = _drive(p, ["s1"], active_servers=3)
    assert [r.redispatch for r in retries] == [False, False, False]
    assert [r.count for r in retries] == [Count("s1", wretr=1)] * 3


def test_hash_backend_redispatches_off_a_down_server() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=-1), deterministic=True)
    decision = p.start()
    p.handle(Assigned("s1"))
    decision = p.handle(ConnectFailed("timeout", server_usable=False, active_servers=2))
    assert isinstance(decision, Retry) and decision.redispatch
    assert decision.count == Count()  # counted once the balancer chose
    assert decision.next == Pick(avoid="s1")
    assert p.handle(Assigned("s2")) == Connect("s2", count=Count("s1", wredis=1))
    assert p.redispatched


def test_roundrobin_redispatches_at_once_with_several_servers() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=-1))
    p.start()
    p.handle(Assigned("s1"))
    decision = p.handle(ConnectFailed("error", active_servers=2))
    assert decision == Retry(0.0, True, "s1", Pick(avoid="s1"))
    assert p.handle(Assigned("s2")).count == Count("s1", wredis=1)


def test_roundrobin_alone_retries_the_same_server() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=1))
    p.start()
    p.handle(Assigned("s1"))
    decision = p.handle(ConnectFailed("error", active_servers=1))
    assert isinstance(decision, Retry) and decision.redispatch and decision.after == 1.0
    assert p.handle(PauseElapsed()) == Pick(avoid="s1")
    # The balancer had no other choice: a retry, not a redispatch.
    assert p.handle(Assigned("s1")) == Connect("s1", count=Count("s1", wretr=1))
    assert not p.redispatched


@pytest.mark.parametrize(
    ("kw", "direct"),
    [({"force_persist": True}, False), ({}, True)],
    ids=["force-persist", "persistence-chose"],
)
def test_persistence_holds_without_interval(kw: dict[str, bool], direct: bool) -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=3), **kw)
    p.start()
    p.handle(Assigned("s1", direct=direct))
    decision = p.handle(ConnectFailed("timeout", active_servers=3))
    assert isinstance(decision, Retry) and not decision.redispatch


def test_force_persist_holds_even_when_down() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=1), force_persist=True)
    p.start()
    p.handle(Assigned("s1"))
    decision = p.handle(ConnectFailed("timeout", server_usable=False, active_servers=3))
    assert isinstance(decision, Retry) and not decision.redispatch


def test_redispatch_to_the_backend_queue_counts_a_redispatch() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=1))
    p.start()
    p.handle(Assigned("s1"))
    p.handle(ConnectFailed("timeout", active_servers=2))
    assert p.handle(Queued(None)) == AwaitGrant(count=Count("s1", wredis=1))
    assert p.handle(Granted("s2")) == Connect("s2")


def test_redispatch_finding_no_server() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=1))
    p.start()
    p.handle(Assigned("s1"))
    p.handle(ConnectFailed("timeout", active_servers=2))
    assert p.handle(NoServer()) == GiveUp(503, "SC", count=Count("s1", wredis=1, econ=1))


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_MODULES), ids=lambda a: a.replace("-", "_"))
def test_deterministic_is_the_hash_kind(algorithm: str) -> None:
    assert is_deterministic(algorithm) is (
        algorithm in {"source", "uri", "url_param", "hdr", "rdp-cookie", "hash"}
    )


# --- retry-on -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["none"], set()),
        (["conn-failure"], {"conn-failure"}),
        (["503", "504"], {"503", "504"}),
        (["0rtt-rejected"], {"0rtt-rejected"}),
        (["all-retryable-errors"], set(ALL_RETRYABLE_ERRORS)),
        (["all-retryable-errors", "404"], {*ALL_RETRYABLE_ERRORS, "404"}),
        (
            ["empty-response", "junk-response", "response-timeout", "401", "403", "408", "425"],
            {"empty-response", "junk-response", "response-timeout", "401", "403", "408", "425"},
        ),
    ],
    ids=["none", "default", "statuses", "0rtt", "all", "all+404", "mixed"],
)
def test_parse_retry_on(words: list[str], expected: set[str]) -> None:
    assert parse_retry_on(words) == expected


def test_all_retryable_errors_expansion() -> None:
    assert {
        "conn-failure",
        "empty-response",
        "junk-response",
        "response-timeout",
        "0rtt-rejected",
        "500",
        "502",
        "503",
        "504",
    } == ALL_RETRYABLE_ERRORS


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "at least one keyword"),
        (["none", "503"], "'none' is only usable alone"),
        (["505"], "unknown keyword '505'"),
        (["conn_failure"], "unknown keyword 'conn_failure'"),
        (["503", "all"], "unknown keyword 'all'"),
    ],
    ids=["empty", "none-not-alone", "status-505", "underscore", "all"],
)
def test_parse_retry_on_rejects(words: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_retry_on(words)


def test_retry_policy_validates() -> None:
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=-1)
    with pytest.raises(ValueError, match="retry-on"):
        RetryPolicy(retry_on=frozenset({"bogus"}))
    assert not RetryPolicy().l7
    assert RetryPolicy(retry_on=frozenset({"conn-failure", "503"})).l7


# --- L7 retries ----------------------------------------------------------------


def l7(retry_on: list[str], *, replayable: bool = True, **kw: int) -> StreamPolicy:
    policy = RetryPolicy(retry_on=parse_retry_on(retry_on), **kw)
    p = StreamPolicy(policy, replayable=replayable)
    p.start()
    p.handle(Assigned("s1"))
    p.handle(ConnectOk())
    return p


@pytest.mark.parametrize(
    ("retry_on", "event", "fallback"),
    [
        (["503"], Response(503), Deliver(503)),
        (["all-retryable-errors"], Response(500), Deliver(500)),
        (["empty-response"], EmptyResponse(), GiveUp(502, "SH")),
        (["junk-response"], JunkResponse(), GiveUp(502, "PH")),
        (["response-timeout"], ResponseTimeout(), GiveUp(504, "sH")),
    ],
    ids=["status", "all-500", "empty", "junk", "timeout"],
)
def test_l7_retry_on_and_its_fallback(retry_on: list[str], event: Event, fallback: object) -> None:
    p = l7(retry_on)
    decision = p.handle(event)
    # No pause, same server (no redispatch), and do_l7_retry's extra wretr.
    assert decision == Retry(
        0.0, False, "s1", Connect("s1", same_server=True), count=Count("s1", wretr=2)
    )
    assert p.state is State.CONNECTING and p.retries == 1
    # Not retried: not replayable, or not listed.
    assert l7(retry_on, replayable=False).handle(event) == fallback
    assert l7(["conn-failure", "404"]).handle(event) == fallback


def test_l7_retries_share_the_budget() -> None:
    p = l7(["503"], retries=1)
    assert isinstance(p.handle(Response(503)), Retry)
    p.handle(ConnectOk())
    assert p.handle(Response(503)) == Deliver(503)  # spent: the server's answer goes out
    assert p.state is State.ESTABLISHED
    assert p.handle(Closed()) == Finished()


def test_l7_retry_with_redispatch() -> None:
    p = l7(["503"], redispatch=1)
    decision = p.handle(Response(503, active_servers=2))
    assert decision == Retry(0.0, True, "s1", Pick(avoid="s1"), count=Count("s1", wretr=1))
    assert p.handle(Assigned("s2")).count == Count("s1", wredis=1)


def test_an_accepted_response_is_delivered() -> None:
    p = l7(["503"])
    assert p.handle(Response(200)) == Deliver(200)
    assert p.handle(Closed()) == Finished()


def test_zero_rtt_rejected_never_fires() -> None:
    # balancekit sends no early data, so no event reports a 0-RTT rejection: the
    # keyword only makes the request eligible for L7 retries (it is an L7 keyword).
    assert RetryPolicy(retry_on=parse_retry_on(["0rtt-rejected"])).l7
    p = l7(["0rtt-rejected"])
    assert p.handle(Response(425)) == Deliver(425)


@pytest.mark.parametrize(
    ("complete", "size", "disabled", "ok"),
    [
        (True, 100, False, True),
        (True, 16384, False, True),
        (True, 16385, False, False),
        (False, 100, False, False),
        (True, 100, True, False),
    ],
    ids=["small", "exactly-bufsize", "too-big", "body-still-coming", "disable-l7-retry"],
)
def test_is_replayable(complete: bool, size: int, disabled: bool, ok: bool) -> None:
    assert is_replayable(complete=complete, size=size, disabled=disabled) is ok


def test_replayable_needs_an_l7_keyword() -> None:
    assert not StreamPolicy(RetryPolicy(), replayable=True).replayable


def test_repr() -> None:
    p = StreamPolicy(RetryPolicy(retries=3, redispatch=1))
    p.start()
    p.handle(Assigned("s1"))
    p.handle(ConnectFailed("timeout", active_servers=2))
    p.handle(Assigned("s2"))
    assert repr(p) == "<StreamPolicy CONNECTING tries_left=2 server=s2 retries=1 redispatched>"


# --- properties ---------------------------------------------------------------

FAILURES = st.builds(
    ConnectFailed,
    kind=st.sampled_from(["error", "timeout"]),
    server_usable=st.booleans(),
    active_servers=st.integers(0, 4),
    reused=st.booleans(),
)


@given(
    retries=st.integers(0, 6),
    redispatch=st.integers(-8, 4),
    deterministic=st.booleans(),
    failures=st.lists(FAILURES, min_size=1, max_size=12),
    servers=st.lists(st.sampled_from(["s1", "s2", "s3"]), min_size=12, max_size=12),
)
def test_attempts_never_exceed_retries_plus_one(
    retries: int,
    redispatch: int,
    deterministic: bool,
    failures: list[ConnectFailed],
    servers: list[str],
) -> None:
    p = StreamPolicy(
        RetryPolicy(retries=retries, redispatch=redispatch), deterministic=deterministic
    )
    picks = iter(servers)
    decision = p.start()
    attempts = wretr = wredis = 0
    for failure in failures:
        while not isinstance(decision, Connect):
            if isinstance(decision, Pick):
                decision = p.handle(Assigned(next(picks)))
            elif isinstance(decision, Retry):
                decision = decision.next or p.handle(PauseElapsed())
            wretr += decision.count.wretr
            wredis += decision.count.wredis
        attempts += 1
        decision = p.handle(failure)
        wretr += decision.count.wretr
        wredis += decision.count.wredis
        if isinstance(decision, GiveUp):
            break
    assert attempts <= retries + 1
    assert 0 <= p.tries_left <= retries
    # Every retry is counted exactly once, as a retry or as a redispatch.
    assert wretr + wredis == p.retries - _pending(p)
    assert p.redispatched is (wredis > 0)


def _pending(p: StreamPolicy) -> int:
    """A redispatch decided but not yet assigned is counted on the next assignment."""
    return 1 if p._previous is not None else 0


DOC = (Path(__file__).resolve().parents[2] / "docs" / "stream-policy.md").read_text()


def test_docs_example_runs() -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC, re.S | re.M)
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/stream-policy.md", "exec"), {"__name__": "docs_stream"})


def test_docs_table_matches() -> None:
    doc = DOC
    for (state, event), targets in TRANSITIONS.items():
        row = f"| {state.name} | `{event.__name__}` |"
        assert row in doc, row
        line = next(line for line in doc.splitlines() if line.startswith(row))
        assert {t.name for t in targets} == set(re.findall(r"[A-Z]{4,}", line.split("|")[3]))
