"""The migrations' manifest: every shipped revision file with the SHA-256 of its content,
oldest first, so that a revision once shipped is never edited, reordered or removed.

A database stamped with a revision has run that revision's file as it was then; editing
the file afterwards (as happened to 0001, and to the order of 0004, 0006 and 0007) leaves
databases with the same stamp and different schemas. The unit tests compare the files
with `migrations/manifest.txt`; a change to the schema is a new revision, appended.

Standard library only: `scripts/migrations_manifest.py` uses this module without
installing digest or its dependencies.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

MANIFEST = "manifest.txt"
SCRIPT = "scripts/migrations_manifest.py"

HEADER = """\
# The shipped migrations, oldest first: revision, file in versions/, SHA-256 of the file
# (with CRLF line ends read as LF). Append only: a revision listed here is never edited,
# reordered or removed; a change to the schema is a new revision. `digest db revision`
# appends its file; `python scripts/migrations_manifest.py --add` appends any other.
# Before this list: 0001 was edited after it shipped (0002 repairs it), 0004, 0006 and 0007
# were reordered (0012 and the restamp in digest.store.schema repair it); there is no 0009.
"""

_REVISION = re.compile(r"^revision(?:\s*:[^=\n]+)?\s*=\s*[\"']([\w-]+)[\"']\s*$", re.M)
_DOWN_REVISION = re.compile(
    r"^down_revision(?:\s*:[^=\n]+)?\s*=\s*(?:None|[\"']([\w-]+)[\"'])\s*$", re.M
)


class ManifestError(Exception):
    """The manifest cannot be read or changed as asked; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One line of the manifest."""

    revision: str
    file: str
    sha256: str

    def line(self) -> str:
        return f"{self.revision}  {self.file}  {self.sha256}"


@dataclass(frozen=True)
class Revision:
    """One revision file as it is on disk."""

    revision: str
    down_revision: str | None
    file: str
    sha256: str

    def entry(self) -> Entry:
        return Entry(self.revision, self.file, self.sha256)


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes, CRLF read as LF (a checkout's line ends do not count)."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def manifest_path(migrations_dir: Path) -> Path:
    return migrations_dir / MANIFEST


def parse_manifest(text: str, source: str = MANIFEST) -> list[Entry]:
    """The entries of a manifest's text; comments (#) and blank lines are skipped."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3 or not re.fullmatch(r"[0-9a-f]{64}", fields[2]):
            raise ManifestError(
                f"{source}, line {number}: expected `revision  file  sha256`, got {line!r}"
            )
        entries.append(Entry(*fields))
    return entries


def read_manifest(migrations_dir: Path) -> list[Entry]:
    path = manifest_path(migrations_dir)
    if not path.exists():
        raise ManifestError(f"{path} is missing: every migrations folder keeps its manifest")
    return parse_manifest(path.read_text(encoding="utf-8"), str(path))


def read_revision(path: Path) -> Revision:
    """A revision file's `revision = "..."` and `down_revision = ...` lines, read as text."""
    source = path.read_text(encoding="utf-8")
    revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
    if len(revision) != 1 or len(down) != 1:
        raise ManifestError(
            f"{path.name}: a revision file sets `revision` to one string and `down_revision` "
            "to one string or None, each on a line of its own (no merges, no tuples)"
        )
    return Revision(revision[0], down[0] or None, path.name, file_hash(path))


def read_revisions(migrations_dir: Path) -> list[Revision]:
    """Every revision file in `versions/`, by file name."""
    return [read_revision(p) for p in sorted((migrations_dir / "versions").glob("*.py"))]


def chain(revisions: list[Revision]) -> list[Revision]:
    """The revisions from the base to the one head; ManifestError unless they form one
    line (one base, one head, no revision with two children, none left out)."""
    by_id: dict[str, Revision] = {}
    for r in revisions:
        if r.revision in by_id:
            raise ManifestError(
                f"revision {r.revision} is set by both {by_id[r.revision].file} and {r.file}"
            )
        by_id[r.revision] = r
    children: dict[str | None, list[Revision]] = {}
    for r in revisions:
        children.setdefault(r.down_revision, []).append(r)
    for parent, kids in children.items():
        if parent is not None and parent not in by_id:
            names = ", ".join(k.file for k in kids)
            raise ManifestError(f"{names} revises {parent}, which no revision file sets")
        if len(kids) > 1:
            names = " and ".join(k.file for k in kids)
            what = "the base (down_revision None)" if parent is None else f"revision {parent}"
            raise ManifestError(
                f"{names} both follow {what}: the chain must stay one line with one head; "
                "give the newer one the current head as its down_revision"
            )
    ordered: list[Revision] = []
    step = children.get(None, [])
    while step:
        ordered.append(step[0])
        step = children.get(step[0].revision, [])
    if len(ordered) != len(revisions):  # a loop, or a part not reached from the base
        left = ", ".join(sorted(r.file for r in revisions if r not in ordered))
        raise ManifestError(f"{left}: not on the one line from the base revision to the head")
    return ordered


def hash_problems(entries: list[Entry], revisions: list[Revision]) -> list[str]:
    """Listed files whose content is no longer what was shipped."""
    listed = {e.file: e for e in entries}
    problems = []
    for r in revisions:
        entry = listed.get(r.file)
        if entry is None:
            continue
        if entry.sha256 != r.sha256:
            problems.append(
                f"versions/{r.file} is not the file shipped as revision {entry.revision} (its "
                f"SHA-256 differs from {MANIFEST}): add a new revision instead of editing "
                f"{entry.revision}. A database stamped {entry.revision} ran the shipped file: "
                f"restore it (git checkout -- versions/{r.file}) and put the change in a new "
                f"revision (digest db revision -m ...). A revision that no commit has shipped "
                f"yet may be re-hashed: python {SCRIPT} --rehash {entry.revision}"
            )
        elif entry.revision != r.revision:
            problems.append(
                f"{r.file} is listed as revision {entry.revision} but sets revision "
                f"{r.revision}: add a new revision instead of editing {entry.revision}"
            )
    return problems


def stale_entries(entries: list[Entry], revisions: list[Revision]) -> list[str]:
    """Entries whose file is gone, and entries listed twice."""
    problems = []
    files = {r.file for r in revisions}
    seen_files: set[str] = set()
    seen_ids: set[str] = set()
    for e in entries:
        if e.file in seen_files or e.revision in seen_ids:
            problems.append(f"{MANIFEST} lists {e.revision} ({e.file}) twice: keep the first line")
        seen_files.add(e.file)
        seen_ids.add(e.revision)
        if e.file not in files:
            problems.append(
                f"revision {e.revision} ({e.file}) is in {MANIFEST} but its file is gone: "
                f"databases may be stamped {e.revision}; restore the file "
                f"(git checkout -- {e.file}), never remove a shipped revision"
            )
    return problems


def unlisted_files(entries: list[Entry], revisions: list[Revision]) -> list[str]:
    """Revision files without an entry."""
    listed = {e.file for e in entries}
    return [
        f"{r.file} (revision {r.revision}) is not in {MANIFEST}: "
        f"run python {SCRIPT} --add (`digest db revision` adds the files it writes)"
        for r in revisions
        if r.file not in listed
    ]


def listing_problems(entries: list[Entry], revisions: list[Revision]) -> list[str]:
    """Files without an entry, entries without a file, and entries listed twice."""
    return stale_entries(entries, revisions) + unlisted_files(entries, revisions)


def order_problems(entries: list[Entry], ordered: list[Revision]) -> list[str]:
    """The manifest lists the chain in its order, base first, and a revision not listed
    yet comes after every listed one; revision numbers grow along the chain."""
    in_chain = [r.revision for r in ordered]
    listed = [e.revision for e in entries if e.revision in set(in_chain)]
    problems = []
    if listed != in_chain[: len(listed)]:
        problems.append(
            f"{MANIFEST} lists {', '.join(listed)}, but the chain runs {', '.join(in_chain)}: "
            "entries are appended in the chain's order and never moved, and a new revision "
            "follows the current head; add a new revision instead of editing the "
            "down_revision of a listed one"
        )
    for before, after in pairwise(in_chain):
        if before.isdigit() and after.isdigit() and int(after) <= int(before):
            problems.append(
                f"revision {after} follows {before} in the chain: a new revision takes the "
                "next number after the head's"
            )
    return problems


def history_problems(entries: list[Entry], earlier: list[tuple[str, list[Entry]]]) -> list[str]:
    """Each earlier version of the manifest (a label, its entries) must begin the current one."""
    problems = []
    for label, before in earlier:
        if entries[: len(before)] != before:
            changed = next(
                (b for i, b in enumerate(before) if i >= len(entries) or entries[i] != b),
                before[-1],
            )
            problems.append(
                f"{MANIFEST} as of {label} is not the start of today's: entry {changed.revision} "
                f"({changed.file}) was changed, moved or removed; the manifest is append only, "
                f"so add a new revision instead of editing {changed.revision}"
            )
    return problems


def problems(migrations_dir: Path, history: bool = False) -> list[str]:
    """Everything wrong with the files against the manifest (empty: all is well); with
    `history`, also against the manifest as each commit left it (when git can tell)."""
    try:
        entries = read_manifest(migrations_dir)
        revisions = read_revisions(migrations_dir)
        ordered = chain(revisions)
    except ManifestError as exc:
        return [str(exc)]
    found = hash_problems(entries, revisions) + listing_problems(entries, revisions)
    found += order_problems(entries, ordered)
    if history:
        found += history_problems(entries, committed_versions(migrations_dir) or [])
    return found


def committed_versions(
    migrations_dir: Path, since: str | None = None
) -> list[tuple[str, list[Entry]]] | None:
    """The manifest as each commit that changed it left it, newest first (`since`: only as
    that commit has it, if it has it at all); None outside a git checkout or without git."""
    path = manifest_path(migrations_dir).resolve()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=path.parent,
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None:
        return None
    relative = path.relative_to(Path(top.strip()).resolve()).as_posix()
    if since is None:
        commits = (git("log", "--format=%h", "--", relative) or "").split()
    elif git("rev-parse", "--verify", "--quiet", f"{since}^{{commit}}") is None:
        raise ManifestError(f"git knows no commit {since!r}")
    else:
        commits = [since]
    versions = []
    for commit in commits:
        text = git("show", f"{commit}:{relative}")
        if text is not None:
            versions.append((f"commit {commit}", parse_manifest(text, f"{commit}:{relative}")))
    return versions


def _write(migrations_dir: Path, entries: list[Entry]) -> None:
    body = "".join(f"{e.line()}\n" for e in entries)
    manifest_path(migrations_dir).write_text(HEADER + body, encoding="utf-8")


def append(migrations_dir: Path, path: Path) -> Entry:
    """Append the entry of one new revision file, which must follow the last one listed."""
    entries = read_manifest(migrations_dir)
    new = read_revision(path)
    if any(e.file == new.file or e.revision == new.revision for e in entries):
        raise ManifestError(f"{MANIFEST} already lists {new.revision} ({new.file})")
    last = entries[-1].revision if entries else None
    if new.down_revision != last:
        raise ManifestError(
            f"{new.file} revises {new.down_revision}, but the last revision in {MANIFEST} is "
            f"{last}: bring the manifest up to date first (python {SCRIPT} --add)"
        )
    _write(migrations_dir, [*entries, new.entry()])
    return new.entry()


def add_missing(migrations_dir: Path) -> list[Entry]:
    """Append every revision file not listed yet, in the chain's order; refuses (without
    writing) when a listed file was edited or the order would not be the chain's."""
    entries = read_manifest(migrations_dir)
    revisions = read_revisions(migrations_dir)
    ordered = chain(revisions)
    found = hash_problems(entries, revisions) + stale_entries(entries, revisions)
    found += order_problems(entries, ordered)
    if found:
        raise ManifestError("\n".join(found))
    listed = {e.file for e in entries}
    new = [r.entry() for r in ordered if r.file not in listed]
    if new:
        _write(migrations_dir, [*entries, *new])
    return new


def rehash(migrations_dir: Path, revision: str, since: str = "HEAD") -> Entry:
    """Record the current hash of a revision no commit has shipped yet (`since`: the
    commit whose manifest counts as shipped; a branch may name where it forked)."""
    entries = read_manifest(migrations_dir)
    index = next((i for i, e in enumerate(entries) if e.revision == revision), None)
    if index is None:
        raise ManifestError(f"{MANIFEST} does not list {revision}: use --add")
    committed = committed_versions(migrations_dir, since)
    if committed is None:
        raise ManifestError(f"git cannot tell whether {revision} has shipped: nothing changed")
    if any(e.revision == revision for _, listed in committed for e in listed):
        raise ManifestError(
            f"revision {revision} is in {MANIFEST} as of {since}: it has shipped; "
            f"add a new revision instead of editing {revision}"
        )
    path = migrations_dir / "versions" / entries[index].file
    updated = read_revision(path).entry()
    entries[index] = updated
    _write(migrations_dir, entries)
    return updated
