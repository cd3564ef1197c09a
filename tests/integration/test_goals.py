"""Goals: targets set by leaders, actuals kept on write from the table stream (exactly
once), progress and pace, the scoreboard, and who may set or read what."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.models.base import BaseItem
from chalicelib.models.goals import COUNTERS, Actuals
from chalicelib.models.signins import SignIn
from chalicelib.observability import is_corrupt_item
from chalicelib.services.org import org
from chalicelib.services.performance import actuals, goals
from chalicelib.services.platform.projections import Change
from tests.support import goal, period_now

NOW = datetime.now(UTC)  # each test's start (the now_at_start fixture)
pytestmark = pytest.mark.usefixtures("now_at_start")


def today() -> str:
    return NOW.astimezone(org.tenant_zone("acme")).strftime("%Y-%m-%d")


def check_in(api, as_="rep_a"):
    body = {
        "kind": "check_in",
        "location": {"lat": 31.2, "lng": 121.4, "accuracy_m": 10},
        "client_time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    status, out = api.post("/v1/signins", body, as_=as_)
    assert status == 201, out
    return out


def opportunity(api, stage="qualify", amount="1000.00", as_="rep_a"):
    _, acc = api.post("/v1/accounts", {"name": "Acct"}, as_=as_)
    status, out = api.post(
        "/v1/opportunities", {"name": "Deal", "account_id": acc["id"], "stage": stage, "amount": amount}, as_=as_
    )
    assert status == 201, out
    return out


def set_only(values: dict) -> dict:
    """The metrics that have a value (the others are null)."""
    return {k: v for k, v in values.items() if v is not None}


def set_goal(api, targets, scope="user/rep_a", as_="mgr_east", period=None):
    return api.put(f"/v1/goals/{scope}/{period or period_now()}", {"targets": targets}, as_=as_)


def test_actuals_count_visits_opportunities_wins_plans_and_expenses_for_user_and_departments(api, stream):
    check_in(api)
    check_in(api)
    opp = opportunity(api)
    assert api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "won"})[0] == 200
    opportunity(api, stage="lead", amount="50.00")
    for title, status in (("a", "done"), ("b", "cancelled"), ("c", None)):
        _, plan = api.post("/v1/plans", {"date": today(), "title": title})
        if status:
            assert api.patch(f"/v1/plans/{plan['id']}", {"status": status})[0] == 200
    _, exp = api.post(
        "/v1/expenses",
        {"amount": "88.50", "category": "travel", "occurred_on": today(), "unit": {"type": "person", "id": "rep_a"}},
    )
    assert api.post(f"/v1/expenses/{exp['id']}/submit")[0] == 200
    stream.pump()
    status, out = set_goal(api, {"visits": 20, "won_amount": "5000.00", "plan_completion_rate": 80})
    assert status == 200, out
    expected = {
        "visits": 2,
        "new_opportunities": 2,
        "won_amount": "1000.00",
        "won_count": 1,
        "plan_completion_rate": 50.0,
        "expenses": "88.50",
    }
    assert out["actuals"] == expected
    assert set_only(out["progress"]) == {"visits": 10.0, "won_amount": 20.0, "plan_completion_rate": 62.5}
    assert set_only(out["targets"]) == {"visits": 20, "won_amount": "5000.00", "plan_completion_rate": 80.0}
    assert out["pace"]["plan_completion_rate"] == "behind"
    for dept in ("east", "sales", "hq"):
        status, dep = goal(api, f"department/{dept}", as_="admin")
        assert status == 200 and dep["actuals"] == expected, dept
    assert goal(api, "department/west", as_="admin")[1]["actuals"]["visits"] == 0


def test_a_redelivered_stream_record_counts_once(api, stream):
    check_in(api)
    records = stream.read()
    stream.deliver(records)
    stream.deliver(records)
    stream.deliver(list(reversed(records)))
    assert goal(api)[1]["actuals"]["visits"] == 1


def test_reopening_a_won_opportunity_takes_the_win_back(api, stream):
    opp = opportunity(api, stage="won", amount="300.00")
    stream.pump()
    assert goal(api)[1]["actuals"]["won_count"] == 1
    assert api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "negotiation"})[0] == 200
    stream.pump()
    _, out = goal(api)
    assert (out["actuals"]["won_count"], out["actuals"]["won_amount"]) == (0, "0.00")
    assert api.get(f"/v1/opportunities/{opp['id']}")[1]["closed_at"] is None


def test_a_stage_outside_the_pipeline_is_422_and_won_stamps_the_close(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    status, out = api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "closed_won"})
    assert status == 422 and out["error"]["code"] == "unknown_stage"
    opp = opportunity(api)
    assert opp["closed_at"] is None
    assert api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "bogus"})[1]["error"]["code"] == "unknown_stage"
    _, won = api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "won"})
    assert won["closed_at"] is not None


def test_a_tenant_pipeline_replaces_the_default(api):
    stages = [
        {"key": "new", "probability": 10, "outcome": "open"},
        {"key": "signed", "probability": 100, "outcome": "won"},
        {"key": "dropped", "probability": 0, "outcome": "lost"},
    ]
    status, out = api.put("/v1/admin/settings", {"pipeline": stages}, as_="admin")
    assert status == 200 and out["pipeline"] == stages
    _, acc = api.post("/v1/accounts", {"name": "A"})
    assert api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "qualify"})[0] == 422
    assert api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "signed"})[0] == 201
    no_won = [s for s in stages if s["outcome"] != "won"] + [{"key": "x", "probability": 5, "outcome": "open"}]
    assert api.put("/v1/admin/settings", {"pipeline": no_won}, as_="admin")[1]["error"]["code"] == "invalid_pipeline"
    twice = stages + [stages[0]]
    assert api.put("/v1/admin/settings", {"pipeline": twice}, as_="admin")[1]["error"]["code"] == "invalid_pipeline"


@pytest.mark.parametrize(
    ("scope", "who", "read", "write"),
    [
        ("user/rep_a", "rep_a", 200, 403),
        ("user/rep_a", "rep_b", 404, 404),
        ("user/rep_a", "mgr_east", 200, 200),
        ("user/rep_a", "vp", 200, 200),
        ("user/rep_a", "mgr_west", 404, 404),
        ("user/rep_a", "admin", 200, 200),
        ("user/rep_a", "fin", 404, 404),
        ("department/east", "mgr_east", 200, 200),
        ("department/east", "vp", 200, 200),
        ("department/east", "rep_a", 404, 404),
        ("department/east", "mgr_west", 404, 404),
        ("department/sales", "mgr_east", 404, 404),
        ("department/nope", "admin", 404, 404),
        ("user/nobody", "admin", 404, 404),
    ],
)
def test_who_may_read_and_set_a_goal(api, scope, who, read, write):
    assert set_goal(api, {"visits": 5}, scope=scope, as_=who)[0] == write
    assert goal(api, scope, as_=who)[0] == read
    assert goal(api, scope, as_="rep_a", period="2030-01")[0] == (200 if scope == "user/rep_a" else 404)


def test_another_tenant_never_reads_a_goal(api):
    assert set_goal(api, {"visits": 5})[0] == 200
    assert set_goal(api, {"visits": 7}, scope="department/hq", as_="admin")[0] == 200
    # globex's boss manages globex's rep_x and heads globex's hq, and nobody called rep_a
    status, out = api.get(f"/v1/goals/user/rep_a/{period_now()}", as_="boss", tenant="globex")
    assert status == 404, out
    status, out = api.get(f"/v1/goals/department/hq/{period_now()}", as_="boss", tenant="globex")
    assert status == 200 and set_only(out["targets"]) == {}, out  # acme's hq goal is acme's
    status, out = api.get(f"/v1/goals/user/rep_x/{period_now()}", as_="boss", tenant="globex")
    assert status == 200 and set_only(out["targets"]) == {}, out


def test_bad_periods_and_targets_are_refused(api):
    assert api.put("/v1/goals/user/rep_a/2030-13", {"targets": {}}, as_="mgr_east")[0] == 400
    assert api.put("/v1/goals/user/rep_a/0000-01", {"targets": {}}, as_="mgr_east")[0] == 422
    assert set_goal(api, {"visits": -1})[0] == 400
    assert set_goal(api, {"plan_completion_rate": 101})[0] == 400
    assert set_goal(api, {"won_amount": 10})[0] == 400
    assert set_goal(api, {"bogus": 1})[0] == 400


def test_pace_compares_actuals_with_the_elapsed_share_of_the_month(api):
    start = datetime(2030, 4, 1, tzinfo=org.tenant_zone("acme"))
    assert goals.elapsed_share("2030-04", "acme", start) == 0
    assert goals.elapsed_share("2030-04", "acme", start + timedelta(days=15)) == pytest.approx(0.5)
    assert goals.elapsed_share("2030-04", "acme", start - timedelta(seconds=1)) == 0
    assert goals.elapsed_share("2030-04", "acme", start + timedelta(days=40)) == 1
    d = goals.Decimal
    assert goals._pace(d(6), d(10), d("0.5")) == "ahead"
    assert goals._pace(d(5), d(10), d("0.5")) == "on_track"
    assert goals._pace(d(3), d(10), d("0.5")) == "behind"
    assert goals._pace(d(10), d(10), d(0)) == "ahead"
    assert goals._pace(d(40), d(100), d("0.5"), lower_is_better=True) == "ahead"
    assert goals._pace(d(58), d(100), d("0.5"), lower_is_better=True) == "behind"


def test_scoreboard_ranks_subordinates_by_won_amount_with_their_goals(api, stream):
    opp = opportunity(api, as_="rep_b", amount="700.00")
    api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "won"}, as_="rep_b")
    opp = opportunity(api, as_="rep_a", amount="200.00", stage="won")
    stream.pump()
    set_goal(api, {"won_amount": "1000.00"}, scope="user/rep_b")
    status, page = api.get("/v1/performance", as_="mgr_east")
    assert status == 200, page
    assert [(r["user_id"], r["rank"]) for r in page["items"]] == [("rep_b", 1), ("rep_a", 2)]
    assert set_only(page["items"][0]["progress"]) == {"won_amount": 70.0}
    _, vp = api.get("/v1/performance?limit=2", as_="vp")
    assert len(vp["items"]) == 2 and vp["next_cursor"]
    _, rest = api.get(f"/v1/performance?limit=2&cursor={vp['next_cursor']}", as_="vp")
    seen = [r["user_id"] for r in vp["items"] + rest["items"]]
    assert sorted(seen) == ["mgr_east", "mgr_west", "rep_a", "rep_b", "rep_c"][: len(seen)] or len(set(seen)) == len(
        seen
    )
    _, dept = api.get("/v1/performance?department_id=east", as_="mgr_east")
    assert {r["user_id"] for r in dept["items"]} == {"mgr_east", "rep_a", "rep_b"}
    assert api.get("/v1/performance?department_id=west", as_="mgr_east")[0] == 404
    assert api.get("/v1/performance", as_="rep_a")[1]["items"] == []


def test_scoreboard_costs_a_fixed_number_of_requests_plus_one_batch_per_50_people(api, ddb_requests):
    def measured(people: int) -> tuple[list[str], int]:
        ddb_requests.reset()
        status, page = api.get("/v1/performance?limit=100", as_="ceo")
        assert status == 200 and len(page["items"]) == people
        batches = ddb_requests.calls.count("BatchGetItem")
        return [c for c in ddb_requests.calls if c != "BatchGetItem"], batches

    small, small_batches = measured(7)
    for i in range(93):
        org.put_user("acme", org.NewUser(f"extra{i}", f"Extra {i}", "east", "mgr_east", None, None))
    large, large_batches = measured(100)
    assert large == small
    assert (small_batches, large_batches) == (2, 3)  # + the edge's (the caller with the settings)


def test_a_transfer_between_two_people_of_one_department_keeps_the_department_count(api, stream):
    oid = opportunity(api)["id"]
    stream.pump()
    assert api.patch(f"/v1/opportunities/{oid}", {"owner_id": "rep_b"})[0] == 200
    stream.pump()
    assert goal(api, "user/rep_a")[1]["actuals"]["new_opportunities"] == 0
    assert goal(api, "user/rep_b")[1]["actuals"]["new_opportunities"] == 1
    assert goal(api, "department/east", as_="admin")[1]["actuals"]["new_opportunities"] == 1


def test_a_move_to_another_department_counts_there_from_then_on_and_leaves_the_past(api, stream):
    check_in(api)
    stream.pump()
    org.put_user("acme", org.NewUser("rep_a", "Zhang Min (rep)", "west", "mgr_west", None, None))
    check_in(api)
    stream.pump()
    assert goal(api, "department/east", as_="admin")[1]["actuals"]["visits"] == 1
    assert goal(api, "department/west", as_="admin")[1]["actuals"]["visits"] == 1
    assert goal(api, "department/sales", as_="admin")[1]["actuals"]["visits"] == 2
    assert goal(api, "user/rep_a", as_="mgr_west")[1]["actuals"]["visits"] == 2


@pytest.mark.parametrize(
    ("server_time", "month"), [("2030-03-31T15:59:59Z", "2030-03"), ("2030-03-31T16:00:00Z", "2030-04")]
)
def test_a_check_in_at_2359_local_on_the_months_last_day_counts_in_that_month(api, server_time, month):
    item = SignIn(tenant_id="acme", signin_id="s1", user_id="rep_a", kind="check_in", server_time=server_time)
    assert actuals.contribution(item, org.get_settings("acme")) == {("rep_a", month): {"visits": 1}}


def test_a_corrupt_record_is_skipped_and_counted_never_raised(api):
    image = {
        "entity": {"S": "SignIn"},
        "tenant_id": {"S": "acme"},
        "PK": {"S": "x"},
        "SK": {"S": "y"},
        "signin_id": {"S": "s"},
        "user_id": {"S": "rep_a"},
        "kind": {"S": "check_in"},
        "server_time": {"S": "1-01-01T00:00:00Z"},
    }
    with pytest.raises(Exception) as raised:
        actuals.handle_change(Change("INSERT", None, image, "evt-corrupt"))
    assert is_corrupt_item(raised.value), "the stream consumer skips and counts it instead of retrying"


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("check_in"), st.sampled_from(["rep_a", "rep_b", "rep_c"])),
        st.tuples(st.just("opportunity"), st.sampled_from(["lead", "won", "lost"])),
        st.tuples(st.just("stage"), st.sampled_from(["qualify", "won", "lost", "negotiation"])),
        st.tuples(st.just("transfer"), st.sampled_from(["rep_a", "rep_b", "rep_c"])),
        st.tuples(st.just("plan"), st.sampled_from(["done", "cancelled", None])),
        st.tuples(st.just("expense"), st.sampled_from(["submit", "reject", None])),
    ),
    min_size=3,
    max_size=12,
)


def _recount() -> dict[tuple[str, str, str], dict[str, int]]:
    tenant_settings = org.get_settings("acme")
    out: dict[tuple[str, str, str], Counter] = {}
    for item in BaseItem.scan():
        if item.tenant_id != "acme" or type(item).__name__ not in actuals.ENTITIES:
            continue
        for (user, period), counters in actuals.contribution(item, tenant_settings).items():
            for scope in actuals.scopes("acme", user):
                out.setdefault((*scope, period), Counter()).update(counters)
    return {k: {n: v for n, v in c.items() if v} for k, c in out.items() if any(c.values())}


def _stored() -> dict[tuple[str, str, str], dict[str, int]]:
    out = {}
    for item in BaseItem.scan():
        if isinstance(item, Actuals) and item.tenant_id == "acme":
            values = {n: int(getattr(item, n)) for n in COUNTERS if int(getattr(item, n) or 0)}
            if values:
                out[(item.scope_type, item.scope_id, item.period)] = values
    return out


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(ops=OPS, dupes=st.integers(min_value=0, max_value=5))
def test_aggregates_equal_a_recount_from_scratch_after_any_mix_and_duplicated_records(api, stream, ops, dupes):
    opps: list[str] = []
    for op, arg in ops:
        if op == "check_in":
            check_in(api, as_=arg)
        elif op == "opportunity":
            opps.append(opportunity(api, stage=arg)["id"])
        elif op in ("stage", "transfer") and opps:
            change = {"stage": arg} if op == "stage" else {"owner_id": arg}
            api.patch(f"/v1/opportunities/{opps[-1]}", change, as_="admin")
        elif op == "plan":
            _, plan = api.post("/v1/plans", {"date": today(), "title": "p"})
            if arg:
                api.patch(f"/v1/plans/{plan['id']}", {"status": arg})
        elif op == "expense":
            body = {
                "amount": "10.00",
                "category": "meal",
                "occurred_on": today(),
                "unit": {"type": "person", "id": "rep_a"},
            }
            _, exp = api.post("/v1/expenses", body)
            if arg:
                api.post(f"/v1/expenses/{exp['id']}/submit")
            if arg == "reject":
                api.post(f"/v1/expenses/{exp['id']}/reject", {"reason": "no"}, as_="mgr_east")
    records = stream.read()
    stream.deliver(records + records[:dupes] + list(reversed(records))[:dupes])
    stream.pump()
    assert _stored() == _recount()
