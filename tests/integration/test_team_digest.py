"""The daily team digest: who gets what, exactly once, at the tenant's 08:00, with one
tenant's bad data never stopping the others; goal alerts once per met target."""

from __future__ import annotations

from datetime import UTC, date, datetime

import boto3

from chalicelib.models.digest import LastCheckIn, OpportunityPulse, TenantEntry
from chalicelib.services.org import org
from chalicelib.services.performance import digest
from tests.support import plant_checkin
from tests.support import stored_messages_of as messages_of

DAY = date(2030, 3, 14)  # a Thursday: 3 working days back is Monday the 11th


def plant_pulse(opp_id: str, owner: str, day: str) -> None:
    OpportunityPulse(tenant_id="acme", opportunity_id=opp_id, owner_id=owner, name=f"Deal {opp_id}", day=day).save()


def test_working_days_skip_the_weekend():
    assert digest.working_days_before(DAY, 3) == date(2030, 3, 11)
    assert digest.working_days_before(date(2030, 3, 18), 1) == date(2030, 3, 15)  # Monday -> Friday


def test_digest_names_quiet_people_stale_deals_and_goals_behind_once_per_manager_and_day(api):
    for user in ("rep_b", "rep_c", "mgr_east", "mgr_west", "vp", "fin"):
        plant_checkin(user, "2030-03-13")
    plant_checkin("rep_a", "2030-03-08")  # quiet since Friday: 3 working days without
    plant_pulse("opp1", "rep_c", "2030-02-01")  # 41 days without activity
    plant_pulse("opp2", "rep_c", "2030-03-10")  # recent
    api.put("/v1/goals/user/rep_b/2030-03", {"targets": {"visits": 100}}, as_="mgr_east")
    assert digest.run_tenant("acme", DAY) == 4  # mgr_east, vp, ceo (rep_a, rep_b, rep_c), mgr_west (rep_c)
    (east,) = messages_of("mgr_east", "team_digest")
    assert "Zhang Min" in east.body and "Deal opp1" not in east.body and "rep_b: visits" in east.body
    (west,) = messages_of("mgr_west", "team_digest")
    assert "Deal opp1" in west.body and "Deal opp2" not in west.body and "Zhang Min" not in west.body
    (ceo,) = messages_of("ceo", "team_digest")
    assert all(part in ceo.body for part in ("Zhang Min", "Deal opp1", "rep_b"))
    assert messages_of("rep_a", "team_digest") == [] and messages_of("fin", "team_digest") == []
    assert digest.run_tenant("acme", DAY) == 0, "a second firing sends nothing"
    assert len(messages_of("mgr_east", "team_digest")) == 1


def test_the_hourly_schedule_runs_tenants_at_their_0800_and_isolates_a_broken_one(api):
    for tenant in ("acme", "globex", "broken"):
        TenantEntry(tenant_id=tenant).save()
    org.put_settings("globex", {"timezone": "America/New_York"})
    plant_checkin("rep_a", "2030-03-01")
    table = boto3.resource("dynamodb").Table(TenantEntry.Meta.table_name)
    table.put_item(
        Item={
            "PK": "T#broken#TENANT",
            "SK": "SETTINGS",
            "entity": "TenantSettings",
            "tenant_id": "broken",
            "timezone": "Asia/Shanghai",
            "inactive_days": "many",
        }
    )
    TenantEntry(tenant_id="broken").save()
    at_8_shanghai = datetime(2030, 3, 14, 0, 30, tzinfo=UTC)
    done = digest.run(at_8_shanghai)
    assert done["tenants"] == 1 and done["failed"] == 1, done
    assert messages_of("mgr_east", "team_digest")
    assert digest.run(datetime(2030, 3, 14, 5, 30, tzinfo=UTC))["tenants"] == 0


def test_check_ins_and_new_users_keep_the_quiet_index_and_a_late_record_never_moves_it_back(api, stream):
    org.put_user("acme", org.NewUser("newbie", "New Rep", "east", "mgr_east", None, None))
    stream.pump()
    baseline = LastCheckIn.get("T#acme#USER#newbie", "LASTCHECKIN")
    assert baseline.day == datetime.now(UTC).astimezone(org.tenant_zone("acme")).date().isoformat()
    body = {
        "kind": "check_in",
        "location": {"lat": 31.2, "lng": 121.4, "accuracy_m": 5},
        "client_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert api.post("/v1/signins", body, as_="rep_b")[0] == 201
    records = stream.read()
    plant_checkin("rep_b", "2099-01-01")
    stream.deliver(records)
    assert LastCheckIn.get("T#acme#USER#rep_b", "LASTCHECKIN").day == "2099-01-01"
    assert TenantEntry.get("T#acme#TENANT", "REGISTRY")


def test_an_activity_on_an_opportunity_refreshes_its_pulse_and_closing_it_removes_it(api, stream):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    _, opp = api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "qualify"})
    stream.pump()
    pulse = OpportunityPulse.get(f"T#acme#OPP#{opp['id']}", "PULSE")
    plant_pulse(opp["id"], "rep_a", "2001-01-01")
    api.post(
        "/v1/activities",
        {"type": "sales_record", "content": "call", "related": [{"type": "opportunity", "id": opp["id"]}]},
    )
    stream.pump()
    assert OpportunityPulse.get(f"T#acme#OPP#{opp['id']}", "PULSE").day == pulse.day
    api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "lost"})
    stream.pump()
    assert OpportunityPulse.count(f"T#acme#OPP#{opp['id']}") == 0


def test_a_met_goal_sends_one_goal_alert(api, stream):
    api.put(
        "/v1/goals/user/rep_a/" + datetime.now(UTC).astimezone(org.tenant_zone("acme")).strftime("%Y-%m"),
        {"targets": {"visits": 1}},
        as_="mgr_east",
    )
    body = {
        "kind": "check_in",
        "location": {"lat": 31.2, "lng": 121.4, "accuracy_m": 5},
        "client_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for _ in range(2):
        assert api.post("/v1/signins", body)[0] == 201
    records = stream.read()
    stream.deliver(records)
    stream.deliver(records)
    stream.pump()
    (alert,) = messages_of("rep_a", "goal_alert")
    assert "visits" in alert.title


def test_digest_cost_does_not_grow_with_people_who_have_nothing_to_report(api, ddb_requests):
    plant_checkin("rep_a", "2030-03-01")
    for user in ("rep_b", "rep_c", "mgr_east", "mgr_west", "vp", "fin", "ceo", "admin"):
        plant_checkin(user, "2030-03-13")
    ddb_requests.reset()
    digest.reports("acme", DAY)
    small = list(ddb_requests.calls)
    for i in range(60):
        org.put_user("acme", org.NewUser(f"busy{i}", f"Busy {i}", "east", "mgr_east", None, None))
        plant_checkin(f"busy{i}", "2030-03-13")
    ddb_requests.reset()
    found = digest.reports("acme", DAY)
    assert found["mgr_east"].inactive == ["rep_a"]
    assert ddb_requests.calls == small
