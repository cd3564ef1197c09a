"""Hot index partitions spread over shards (models/shards.py): the digest's last-check-in
index over the tenant's ``index_shards`` (1 for a small tenant: read as before), the
system webhook outbox over a fixed 16; each read is one Query per shard, merged, and
finds what was written before the count rose."""

from __future__ import annotations

from datetime import date

from chalicelib.models.digest import LastCheckIn
from chalicelib.models.signins import SignIn
from chalicelib.models.webhooks import OUTBOX_PK, OUTBOX_SHARDS, OutboxEntry
from chalicelib.services.integrations import webhooks
from chalicelib.services.org import org
from chalicelib.services.performance import digest

DAY = date(2030, 3, 14)  # a Thursday: 3 working days back is Monday the 11th
REPS = [f"rep_{i:02d}" for i in range(12)]


def test_index_shards_are_raised_never_lowered_and_sized_by_users(api):
    assert org.index_shards_for_users(50) == 1 and org.index_shards_for_users(100_000) == 4
    assert org.raise_index_shards("acme", 4) and not org.raise_index_shards("acme", 2)
    assert org.get_settings("acme").index_shards == 4
    assert org.aggregate_shards("acme") == 1  # a separate figure


def test_last_check_ins_spread_over_the_tenants_shards_and_the_digest_reads_them_all(api, ddb_requests):
    LastCheckIn(tenant_id="acme", user_id="rep_a", day="2030-03-01").save()  # written before the raise
    org.raise_index_shards("acme", 4)
    for user in ("rep_b", "rep_c", "mgr_east", "mgr_west", "vp", "fin"):
        LastCheckIn(tenant_id="acme", user_id=user, day="2030-03-13", shards=4).save()
    for user in REPS:
        LastCheckIn(tenant_id="acme", user_id=user, day="2030-03-05", shards=4).save()
    written = {q.GSI1PK for q in LastCheckIn.scan() if isinstance(q, LastCheckIn)}
    assert len(written) > 2  # spread

    ddb_requests.reset()
    quiet = LastCheckIn.quiet_before("acme", "2030-03-11", org.get_settings("acme").index_shards)
    assert sorted(q.user_id for q in quiet) == sorted(["rep_a", *REPS])  # the old one too, nothing twice
    assert [q.day for q in quiet] == sorted(q.day for q in quiet)  # merged oldest first
    assert ddb_requests.calls.count("Query") == 4

    report = digest.reports("acme", DAY)
    assert "rep_a" in report["mgr_east"].inactive  # the digest reads every shard


def test_a_check_in_moves_the_users_entry_to_its_shard_without_a_copy(api):
    LastCheckIn(tenant_id="acme", user_id="rep_a", day="2030-03-01").save()
    org.raise_index_shards("acme", 8)
    signin = SignIn(tenant_id="acme", user_id="rep_a", kind="check_in", server_time="2030-03-13T02:00:00Z")
    digest.note_check_in(signin)
    stored = LastCheckIn.get("T#acme#USER#rep_a", "LASTCHECKIN")
    assert stored.day == "2030-03-13" and stored.shards == 8
    assert [q.user_id for q in LastCheckIn.quiet_before("acme", "2030-03-14", 8)].count("rep_a") == 1


def test_a_small_tenants_digest_reads_one_shard(api, ddb_requests):
    LastCheckIn(tenant_id="acme", user_id="rep_a", day="2030-03-01").save()
    ddb_requests.reset()
    assert [q.user_id for q in LastCheckIn.quiet_before("acme", "2030-03-11", 1)] == ["rep_a"]
    assert ddb_requests.calls == ["Query"]


def test_outbox_entries_spread_over_shards_and_the_sweep_queues_every_one(api):
    ids = [f"wh_{i:03d}" for i in range(40)]
    for webhook_id in ids:
        webhooks.outbox_entry("acme", "expense.approved", {"expense_id": webhook_id}, webhook_id).save()
    old = webhooks.outbox_entry("acme", "expense.approved", {"expense_id": "old"}, "wh_old")
    old.set_keys()
    old.GSI1PK = OUTBOX_PK  # as written before the outbox was sharded
    old.save()
    shards_used = {e.GSI1PK for e in OutboxEntry.scan() if isinstance(e, OutboxEntry)}
    assert len(shards_used) > OUTBOX_SHARDS // 2
    assert webhooks.sweep_outbox(older_than_s=-60) == len(ids) + 1
    assert webhooks.sweep_outbox(older_than_s=-60) == 0
    assert not [e for e in OutboxEntry.scan() if isinstance(e, OutboxEntry)]
