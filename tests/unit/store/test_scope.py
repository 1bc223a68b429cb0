"""The scope a sync covered: read from manifest entries, matched against a load, rendered."""

from __future__ import annotations

from sessionkit.store._scope import SyncScope, describe_scopes, synced_scopes

STABLE = "agent_" + "a" * 40


def test_from_state_sorts_the_filters_and_keeps_the_sync_time() -> None:
    scope = SyncScope.from_state(
        {"params": {"trigger": "cron", "env": "prod"}, "synced_at": "2026-11-01T00:00:00Z"}
    )
    assert scope.params == (("env", "prod"), ("trigger", "cron"))
    assert scope.synced_at == "2026-11-01T00:00:00Z"
    assert not scope.whole_project
    assert SyncScope.from_state({"params": None, "synced_at": None}).whole_project


def test_describe_names_an_agent_the_store_knows_and_says_all_for_no_filter() -> None:
    scope = SyncScope.from_state({"params": {"agentIdentifier": STABLE, "env": "prod"}})
    assert scope.describe() == f"agentIdentifier={STABLE}, env=prod"
    assert scope.describe({STABLE: "doc-extractor"}) == "agent='doc-extractor', env=prod"
    assert SyncScope().describe() == "all"


def test_covers_needs_every_filter_of_the_scope_with_the_same_value() -> None:
    scope = SyncScope.from_state({"params": {"env": "prod", "trigger": "cron"}})
    assert scope.covers({"env": "prod", "trigger": "cron", "success": "false"})
    assert not scope.covers({"env": "prod"})
    assert not scope.covers({"env": "dev", "trigger": "cron"})
    assert SyncScope().covers({})


def test_synced_scopes_keep_manifest_order_and_describe_scopes_shows_the_first_three() -> None:
    manifest = {
        "scopes": {
            f"k{i}": {"params": {"trigger": t}, "synced_at": None}
            for i, t in enumerate(["cron", "api", "sms", "email"])
        }
    }
    scopes = synced_scopes(manifest)
    assert [s.params for s in scopes] == [
        (("trigger", t),) for t in ["cron", "api", "sms", "email"]
    ]
    assert describe_scopes(scopes) == "trigger=cron; trigger=api; trigger=sms"
    assert describe_scopes(scopes, limit=1) == "trigger=cron"
