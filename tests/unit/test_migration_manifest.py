"""The migrations' manifest: a shipped revision is never edited, removed or moved, every
revision file is listed, the chain is one line with one head, and new revisions are
appended (by `digest db revision` and by scripts/migrations_manifest.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from digest.errors import InvalidInput
from digest.store import db, manifest, schema

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "migrations_manifest.py"
HAS_GIT = shutil.which("git") is not None


def fail(problems: list[str]) -> str:
    return "\n".join(problems)


def test_every_revision_file_is_the_one_shipped() -> None:
    entries = manifest.read_manifest(schema.MIGRATIONS)
    problems = manifest.hash_problems(entries, manifest.read_revisions(schema.MIGRATIONS))
    assert problems == [], fail(problems)


def test_every_revision_file_is_listed_and_every_entry_has_its_file() -> None:
    entries = manifest.read_manifest(schema.MIGRATIONS)
    problems = manifest.listing_problems(entries, manifest.read_revisions(schema.MIGRATIONS))
    assert problems == [], fail(problems)


def test_the_manifest_is_append_only_in_the_order_of_the_chain() -> None:
    entries = manifest.read_manifest(schema.MIGRATIONS)
    ordered = manifest.chain(manifest.read_revisions(schema.MIGRATIONS))
    problems = manifest.order_problems(entries, ordered)
    assert problems == [], fail(problems)
    assert [e.revision for e in entries] == [r.revision for r in ordered]
    # Every version of the manifest committed so far begins today's (outside a git
    # checkout there is no history to compare with).
    earlier = manifest.committed_versions(schema.MIGRATIONS) or []
    problems = manifest.history_problems(entries, earlier)
    assert problems == [], fail(problems)


def test_the_chain_is_one_line_with_one_head() -> None:
    ordered = manifest.chain(manifest.read_revisions(schema.MIGRATIONS))
    # Alembic reads the files the same way: one base, one head, no merge or branch point.
    script = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    assert script.get_heads() == [ordered[-1].revision]
    assert script.get_bases() == [ordered[0].revision]
    walked = list(reversed(list(script.walk_revisions())))
    assert [s.revision for s in walked] == [r.revision for r in ordered]
    for s in walked:
        assert not s.is_merge_point and not s.is_branch_point, s.revision
        assert not s.branch_labels and not s.dependencies, s.revision


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The project's migrations, copied, to be broken on purpose."""
    target = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def versions(copy: Path, revision: str) -> Path:
    (path,) = (copy / "versions").glob(f"{revision}_*.py")
    return path


def write_revision(copy: Path, revision: str, down: str, name: str = "more") -> Path:
    path = copy / "versions" / f"{revision}_{name}.py"
    path.write_text(
        f'"""{name}"""\n\nrevision = "{revision}"\ndown_revision = "{down}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    return path


def test_the_package_passes_every_check() -> None:
    assert manifest.problems(schema.MIGRATIONS, history=True) == []


def test_an_edited_revision_is_refused_with_what_to_do(copy: Path) -> None:
    path = versions(copy, "0005")
    path.write_text(path.read_text().replace("nullable=True", "nullable=False", 1))
    (problem,) = manifest.problems(copy)
    assert "add a new revision instead of editing 0005" in problem
    assert "0005_transactional_mails.py" in problem
    # Line ends are not an edit.
    original = (schema.MIGRATIONS / "versions" / path.name).read_bytes()
    path.write_bytes(original.replace(b"\n", b"\r\n"))
    assert manifest.problems(copy) == []


def test_a_reordered_chain_is_refused(copy: Path) -> None:
    # What once happened on main: 0003, 0006, 0004, 0005, 0007.
    for revision, old, new in (
        ("0006", "0005", "0003"),
        ("0004", "0003", "0006"),
        ("0007", "0006", "0005"),
    ):
        path = versions(copy, revision)
        line = "down_revision: str | None = "
        path.write_text(path.read_text().replace(f'{line}"{old}"', f'{line}"{new}"', 1))
    problems = manifest.problems(copy)
    for revision in ("0004", "0006", "0007"):
        assert any(f"add a new revision instead of editing {revision}" in p for p in problems)
    assert any("the chain runs 0001, 0002, 0003, 0006, 0004" in p for p in problems)


def test_a_removed_or_unlisted_revision_is_refused(copy: Path) -> None:
    versions(copy, "0011").unlink()
    write_revision(copy, "0011", "0010", "other")
    problems = manifest.problems(copy)
    assert any("0011_delivery_message_id_index.py" in p and "is gone" in p for p in problems)
    assert any("0011_other.py" in p and "is not in manifest.txt" in p for p in problems)


def test_a_second_head_is_refused(copy: Path) -> None:
    head = manifest.read_manifest(copy)[-1].revision
    write_revision(copy, "0098", head, "one")
    write_revision(copy, "0099", head, "two")
    (problem,) = manifest.problems(copy)
    assert "0098_one.py and 0099_two.py both follow revision" in problem


def test_a_manifest_reordered_or_rewritten_is_refused(copy: Path) -> None:
    entries = manifest.read_manifest(copy)
    swapped = [entries[1], entries[0], *entries[2:]]
    manifest.manifest_path(copy).write_text("".join(f"{e.line()}\n" for e in swapped))
    assert any("never moved" in p for p in manifest.problems(copy))
    earlier = [("commit abc1234", entries[:5])]
    rewritten = [*entries[:3], manifest.Entry("0004", entries[3].file, "0" * 64), *entries[4:]]
    (problem,) = manifest.history_problems(rewritten, earlier)
    assert "as of commit abc1234" in problem
    assert "add a new revision instead of editing 0004" in problem
    assert manifest.history_problems([*entries, entries[0]], earlier) == []


def test_the_script_appends_new_revisions_without_digest_installed(copy: Path) -> None:
    head = manifest.read_manifest(copy)[-1].revision
    write_revision(copy, "9013", head)
    write_revision(copy, "9014", "9013", "later")
    run = [sys.executable, "-I", "-S", str(SCRIPT), "--migrations", str(copy)]  # stdlib only
    checked = subprocess.run(run, capture_output=True, text=True)
    assert checked.returncode == 1
    assert "9013_more.py (revision 9013) is not in manifest.txt" in checked.stderr

    added = subprocess.run([*run, "--add"], capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == [
        f"added {manifest.read_revision(copy / 'versions' / name).entry().line()}"
        for name in ("9013_more.py", "9014_later.py")
    ]
    assert [e.revision for e in manifest.read_manifest(copy)][-3:] == [head, "9013", "9014"]
    assert subprocess.run(run, capture_output=True).returncode == 0


def test_the_script_does_not_add_past_an_edited_revision(copy: Path) -> None:
    path = versions(copy, "0003")
    path.write_text(path.read_text() + "\n# a late remark\n")
    before = manifest.manifest_path(copy).read_text()
    write_revision(copy, "9013", manifest.read_manifest(copy)[-1].revision)
    added = subprocess.run(
        [sys.executable, str(SCRIPT), "--migrations", str(copy), "--add"],
        capture_output=True,
        text=True,
    )
    assert added.returncode == 1
    assert "add a new revision instead of editing 0003" in added.stderr
    assert manifest.manifest_path(copy).read_text() == before


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_only_a_revision_not_committed_yet_may_be_rehashed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    copy = repo / "migrations"
    shutil.copytree(schema.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "shipped")
    head = manifest.read_manifest(copy)[-1].revision
    new = write_revision(copy, "9013", head)
    manifest.append(copy, new)
    new.write_text(new.read_text().replace("pass", "pass  # reviewed", 1))
    assert any("editing 9013" in p for p in manifest.problems(copy))

    with pytest.raises(manifest.ManifestError, match="add a new revision instead of editing"):
        manifest.rehash(copy, head)
    assert manifest.rehash(copy, "9013").sha256 == manifest.file_hash(new)
    assert manifest.problems(copy, history=True) == []

    git("add", ".")
    git("commit", "-q", "-m", "9013")
    with pytest.raises(manifest.ManifestError, match="it has shipped"):
        manifest.rehash(copy, "9013")
    assert manifest.problems(copy, history=True) == []


def test_new_revision_appends_to_the_manifest(database_url: str, copy: Path) -> None:
    schema.upgrade(database_url)
    package = manifest.manifest_path(schema.MIGRATIONS).read_text()
    with db.get_engine(database_url).begin() as conn:
        conn.execute(sa.text("ALTER TABLE subscribers DROP COLUMN last_sent_at"))

    path = schema.new_revision(database_url, "add subscribers.last_sent_at", copy)

    last = manifest.read_manifest(copy)[-1]
    assert (last.file, last.sha256) == (path.name, manifest.file_hash(path))
    assert manifest.problems(copy) == []
    assert manifest.manifest_path(schema.MIGRATIONS).read_text() == package


def test_new_revision_says_when_the_manifest_is_behind(database_url: str, copy: Path) -> None:
    schema.upgrade(database_url)
    entries = manifest.read_manifest(copy)
    manifest.manifest_path(copy).write_text("".join(f"{e.line()}\n" for e in entries[:-1]))
    with db.get_engine(database_url).begin() as conn:
        conn.execute(sa.text("ALTER TABLE subscribers DROP COLUMN last_sent_at"))
    with pytest.raises(InvalidInput, match=r"did not list it: .* --add"):
        schema.new_revision(database_url, "add subscribers.last_sent_at", copy)
