"""Go 1.23's DNS lookup rules as pure functions, for those who model the resolver.

The stub resolver (:class:`cleanup.StubResolver`) runs these rules over real sockets;
the simulation's vectorised evaluator runs them over a timeline, so both follow one
copy.  Which names a lookup tries (:func:`candidate_names`), which of them cannot be
put on the wire (:func:`marshal_error`) and the error for a name Go will not look up at
all (:func:`not_found_error`), which servers one query asks (:func:`server_sequence`),
the order queries start and complete in (:func:`start_order`,
:func:`completion_order`), one query walked over its servers and attempts
(:func:`walk_query`, :class:`QueryWalk`, :class:`Exchange`),
how one received message is judged (:func:`judge_reply`, :class:`Verdict`,
:data:`Judgement`, for query types :data:`QTYPES`),
the outcome vocabularies (:data:`ExchangeOutcome`, :data:`QueryOutcome`,
:data:`WalkOutcome`), and a whole lookup folded to its answer or error (:func:`simulate_lookup`,
:class:`LookupRun`, :class:`LookupFold`, :class:`QueryResult`).  The rules and their Go
sources are written out in ``cleanup._dnsrules``.
"""

from cleanup._dnsrules import (
    QTYPES,
    Exchange,
    ExchangeOutcome,
    Judgement,
    LookupFold,
    LookupRun,
    QueryOutcome,
    QueryResult,
    QueryWalk,
    Verdict,
    WalkOutcome,
    candidate_names,
    completion_order,
    judge_reply,
    marshal_error,
    not_found_error,
    server_sequence,
    simulate_lookup,
    start_order,
    walk_query,
)

__all__ = [
    "QTYPES",
    "Exchange",
    "ExchangeOutcome",
    "Judgement",
    "LookupFold",
    "LookupRun",
    "QueryOutcome",
    "QueryResult",
    "QueryWalk",
    "Verdict",
    "WalkOutcome",
    "candidate_names",
    "completion_order",
    "judge_reply",
    "marshal_error",
    "not_found_error",
    "server_sequence",
    "simulate_lookup",
    "start_order",
    "walk_query",
]
