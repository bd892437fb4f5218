"""The Go differential oracle: our cleanup against Go 1.23's resolver and HTTP client.

See README ("The Go oracle").  Modules, one idea each: ``_build`` (find Go, build the
probe once), ``_sandbox`` (a private mount namespace with the case's resolv.conf),
``_lanes`` (loopback addresses with faultdns and a scripted HTTP server), ``_http`` (the
scripted HTTP server), ``_case`` (what a case is), ``_record`` (the comparable record and
the comparator), ``_oracle`` (running a case on both sides), ``_strategies`` (hypothesis
cases), ``_report`` (the agreement table).
"""

from sim._fidelity._build import GoUnavailable, Probe, build_probe, find_go
from sim._fidelity._case import Case, ServerPlan
from sim._fidelity._http import ScriptedHTTPServer, parse_behaviour
from sim._fidelity._oracle import (
    GO_RUNS,
    OUR_RUNS,
    Oracle,
    OracleUnavailable,
    ProbeFailed,
    Verdict,
    default_oracle,
    run_case,
    unavailable_reason,
)
from sim._fidelity._record import FIELDS, Difference, Record, differences, normalise

__all__ = [
    "FIELDS",
    "GO_RUNS",
    "OUR_RUNS",
    "Case",
    "Difference",
    "GoUnavailable",
    "Oracle",
    "OracleUnavailable",
    "Probe",
    "ProbeFailed",
    "Record",
    "ScriptedHTTPServer",
    "ServerPlan",
    "Verdict",
    "build_probe",
    "default_oracle",
    "differences",
    "find_go",
    "normalise",
    "parse_behaviour",
    "run_case",
    "unavailable_reason",
]
