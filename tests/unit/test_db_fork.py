"""A forked child (a Celery pool process, a gather process) must not write on the database
connections it inherited from its parent: two processes on one socket interleave their
statements, and a batch sent by one can be recorded by neither."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest
from sqlalchemy import select, text

from digest.store import db
from digest.store.models import Source

ROUNDS = 150


def _child_work(url: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]  # a bare generic
    try:
        engine = db.get_engine(url)
        inherited = engine.pool.checkedin()  # what the pool holds, right after the fork
        for i in range(ROUNDS):
            with db.session_scope(url) as session:
                session.add(Source(url=f"https://child.example.org/{i}", name="child"))
        queue.put(("ok", inherited))
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is a POSIX call")
def test_a_forked_child_opens_its_own_connections(migrated_database_url: str) -> None:
    url = migrated_database_url
    with db.session_scope(url) as session:  # the parent now has a pooled connection
        session.execute(text("SELECT 1"))
    assert db.get_engine(url).pool.checkedin() >= 1

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_work, args=(url, queue))
    child.start()
    for i in range(ROUNDS):  # the parent keeps writing on its connection meanwhile
        with db.session_scope(url) as session:
            session.add(Source(url=f"https://parent.example.org/{i}", name="parent"))
    outcome, detail = queue.get(timeout=120)
    child.join(60)
    assert (outcome, child.exitcode) == ("ok", 0), detail
    assert detail == 0  # the child's pool started empty: nothing of the parent's
    with db.session_scope(url) as session:
        names = list(session.scalars(select(Source.name)))
    assert (names.count("parent"), names.count("child")) == (ROUNDS, ROUNDS)


def _synchronous(url: str) -> int:
    with db.session_scope(url) as session:
        return int(session.execute(text("PRAGMA synchronous")).scalar_one())


def _gathering_child(url: str, other: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]  # a bare generic
    db.commit_without_sync(url)
    queue.put((_synchronous(url), _synchronous(other)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is a POSIX call")
def test_a_gathering_process_alone_commits_without_waiting_for_the_disk(tmp_path: Path) -> None:
    from digest.store import schema

    url, other = (f"sqlite:///{tmp_path / name}" for name in ("gather.db", "other.db"))
    for each in (url, other):
        schema.upgrade(each)
    assert _synchronous(url) == 2  # FULL: every commit waits for the disk

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_gathering_child, args=(url, other, queue))
    child.start()
    in_child = queue.get(timeout=60)
    child.join(60)
    assert in_child == (1, 2)  # NORMAL there for the gathered database only
    assert _synchronous(url) == 2  # the parent's connections are as they were
