"""The error budget counted one batch at a time (digest.core.budget): no database."""

from __future__ import annotations

from digest.core.budget import ErrorBudget, Outcome, SendRun


def test_failures_in_a_row_exhaust_the_budget_and_an_accepted_copy_starts_again() -> None:
    budget = ErrorBudget(limit=3)
    assert not budget.exhausted
    budget.outcome(1, False, "550 no")
    budget.outcome(2, False, "550 no")
    assert not budget.exhausted
    budget.outcome(3, True)
    assert budget.run == 0
    for i in (4, 5, 6):
        budget.outcome(i, False, f"535 login {i}")
    assert budget.exhausted
    assert budget.delivery_ids == [1, 2, 3, 4, 5, 6]
    assert budget.outcomes[0] == Outcome(1, False, "550 no")
    assert budget.outcomes[2] == Outcome(3, True, "")


def test_all_accepted_is_the_common_case() -> None:
    budget = ErrorBudget(limit=2)
    assert budget.all_accepted  # nothing counted yet
    budget.outcome(1, True)
    budget.outcome(2, True)
    assert budget.all_accepted
    budget.outcome(3, False, "boom")
    assert not budget.all_accepted


def test_runs_per_send_carry_on_only_when_no_copy_of_it_was_accepted() -> None:
    budget = ErrorBudget(limit=5)
    budget.outcome(1, False, "first")  # send 10
    budget.outcome(2, True)  # send 10
    budget.outcome(3, False, "second")  # send 10
    budget.outcome(4, False, "a")  # send 20
    budget.outcome(5, False, "b")  # send 20
    budget.outcome(6, True)  # send 30
    runs = budget.runs({1: 10, 2: 10, 3: 10, 4: 20, 5: 20, 6: 30})
    assert runs == {
        10: SendRun(failures=1, carried=False, last_error="second"),
        20: SendRun(failures=2, carried=True, last_error="b"),
        30: SendRun(failures=0, carried=False, last_error=None),
    }


def test_the_last_error_is_the_last_failure_even_when_a_copy_was_accepted_after_it() -> None:
    budget = ErrorBudget(limit=5)
    budget.outcome(1, False, "refused")
    budget.outcome(2, True)
    assert budget.runs({1: 7, 2: 7}) == {7: SendRun(0, False, "refused")}


def test_a_send_is_paused_at_its_limit_with_the_reason() -> None:
    budget = ErrorBudget(limit=3)
    assert budget.pause_reason(2, "550 no") is None
    assert budget.pause_reason(3, "550 no") == (
        "3 copies in a row failed (DIGEST_ERROR_BUDGET=3); the last: 550 no"
    )
    long = budget.pause_reason(4, "x" * 3000)
    assert long is not None and len(long) == 2000
