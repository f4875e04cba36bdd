"""The audit log: every registry change as a hash-chained event, stored in MLflow.

Each event is one run of the experiment ``nbops-audit``; its fields are run tags
under ``nbops.audit.*``, so the log lives wherever the runs do (the embedded
SQLite store or a team's MLflow server). Event ``n`` carries the SHA-256 of its
own fields and the hash of event ``n - 1``: rewriting an event after the fact
breaks its hash, and removing one breaks the chain. ``verify`` finds both.

Concurrent writers (kernels, the CLI, the server) keep the chain linear by a
compare-and-set MLflow already guarantees: a run's params are write-once. Every
event, once chained on, carries the param ``nbops.audit.next`` naming the one run
that follows it; a writer

1. reads the head: the end of the chain of ``next`` params (the newest runs are
   read first, so this is normally one query);
2. creates its run with ``seq = head.seq + 1`` and ``prev_hash = head.hash``
   (RUNNING, all tags written in the same call), and with any fields that depend
   on the log (``derive``: e.g. the version an alias held before) worked out from
   the log as it stands at that head;
3. claims the slot by logging ``next = <its run id>`` on the head. Exactly one
   writer's param lands; the others see someone else's id, delete their own run
   and start again after a short random pause (at most 50 times).

The winner then ends its run FINISHED. FINISHED therefore means "on the chain",
and a RUNNING run counts only if its predecessor names it (its writer is between
claim and FINISHED, or died there: the next writer finishes it). Losers are never
named by a ``next``, so ``verify`` can tell them from an event someone deleted,
which is named and has gone missing. (Electing the winner of a seq by smallest
start time instead is not safe: a writer that took its start time first can land
after another has already seen itself alone and gone on; with 8 writers that
happened 11 times in 80 appends.)
Nothing precedes the first event, so its slot is the name of a second experiment,
``nbops-audit.genesis.<id>``, created once (names are unique) with a tag holding
the first event's run id, and then deleted so it stays out of experiment lists.

The parts: ``layout`` (what an event is and how it is stored as tags), ``reader``
(the head and the events in order), ``writer`` (append: the compare-and-set) and
``verifier`` (walking the chain for damage). Plain Python over MLflow: no IPython
or tornado here, and MLflow is imported only when the log is used.
"""

from __future__ import annotations

from .layout import (
    DETAILS_LIMIT,
    EXPERIMENT,
    FIELD_LIMIT,
    GENESIS_EXPERIMENT,
    PARAM_NEXT,
    REASON_LIMIT,
    TAG_FIRST_RUN,
    TAG_HASH,
    TAG_PREFIX,
    TAG_PREV_RUN,
    TAG_SEQ,
    Event,
    Problem,
    Verification,
    canonical_json,
    default_actor,
    format_event,
    utc_now,
)
from .reader import events, head
from .verifier import verify
from .writer import MAX_TRIES, Derive, append

__all__ = [
    "DETAILS_LIMIT",
    "EXPERIMENT",
    "FIELD_LIMIT",
    "GENESIS_EXPERIMENT",
    "MAX_TRIES",
    "PARAM_NEXT",
    "REASON_LIMIT",
    "TAG_FIRST_RUN",
    "TAG_HASH",
    "TAG_PREFIX",
    "TAG_PREV_RUN",
    "TAG_SEQ",
    "Derive",
    "Event",
    "Problem",
    "Verification",
    "append",
    "canonical_json",
    "default_actor",
    "events",
    "format_event",
    "head",
    "utc_now",
    "verify",
]
