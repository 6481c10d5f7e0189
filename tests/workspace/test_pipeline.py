"""The pipeline page: columns with counts and sums, moving deals, Won and Lost."""

from decimal import Decimal

import pytest

from funnel.errors import StaleTransition, TransitionForbidden
from funnel.models import Opportunity, PipelineStage
from funnel.pipeline import opportunity_move, pipeline_board
from tests.conftest import FUTURE, move

pytestmark = pytest.mark.django_db


def _deal(make_lead, owner, amount="1000", stage="discovery"):
    lead = make_lead("sql", owner=owner)
    move(
        lead,
        "opportunity",
        owner,
        fields={"amount": amount, "expected_close": FUTURE, "pipeline_stage": stage},
    )
    return Opportunity.objects.get(lead=lead, status="open")


def test_the_board_has_a_column_per_stage_with_counts_and_sums(make_lead, rep, rep2, manager):
    _deal(make_lead, rep, "1000")
    _deal(make_lead, rep, "2500.50")
    _deal(make_lead, rep, "400", stage="proposal")
    _deal(make_lead, rep2, "99999")
    board = {c.stage.slug: c for c in pipeline_board(rep)}
    assert list(board) == ["discovery", "proposal", "negotiation", "commit"]
    assert (board["discovery"].count, board["discovery"].total) == (2, Decimal("3500.50"))
    assert board["discovery"].weighted == Decimal("350.05")
    assert (board["proposal"].count, board["proposal"].total) == (1, Decimal("400"))
    everyone = {c.stage.slug: c for c in pipeline_board(manager)}
    assert everyone["discovery"].count == 3


def test_the_pipeline_page_shows_the_columns(client_for, make_lead, rep):
    deal = _deal(make_lead, rep, "1234")
    html = client_for(rep).get("/pipeline/").content.decode()
    assert "Discovery" in html and "Negotiation" in html
    assert "1,234.00" in html
    assert f'id="deal-{deal.pk}"' in html


def test_a_rep_moves_a_deal_between_pipeline_stages(client_for, make_lead, rep):
    deal = _deal(make_lead, rep)
    response = client_for(rep).post(
        f"/pipeline/deals/{deal.pk}/move/",
        {"pipeline_stage": "negotiation", "from_pipeline_stage": "discovery"},
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.pipeline_stage.slug == "negotiation"


def test_moving_a_deal_refuses_stale_unknown_and_colleagues(client_for, make_lead, rep, rep2):
    deal = _deal(make_lead, rep)
    client = client_for(rep)
    response = client.post(
        f"/pipeline/deals/{deal.pk}/move/",
        {"pipeline_stage": "commit", "from_pipeline_stage": "proposal"},
    )
    assert response.status_code == 409
    assert "no longer in proposal: it is in Discovery now" in response.content.decode()
    response = client.post(f"/pipeline/deals/{deal.pk}/move/", {"pipeline_stage": "nowhere"})
    assert response.status_code == 400
    response = client_for(rep2).post(
        f"/pipeline/deals/{deal.pk}/move/", {"pipeline_stage": "commit"}
    )
    assert response.status_code == 403
    assert client.post("/pipeline/deals/99999/move/", {"pipeline_stage": "x"}).status_code == 404
    deal.refresh_from_db()
    assert deal.pipeline_stage.slug == "discovery"


def test_a_closed_deal_does_not_move(make_lead, rep, marketer):
    deal = _deal(make_lead, rep)
    move(deal.lead, "customer", rep)
    with pytest.raises(StaleTransition, match="won already"):
        opportunity_move(opportunity_id=deal.pk, to_stage="commit", actor=rep)
    with pytest.raises(TransitionForbidden):
        opportunity_move(opportunity_id=deal.pk, to_stage="commit", actor=marketer)


def test_won_and_lost_from_the_pipeline(client_for, make_lead, rep):
    won, lost = _deal(make_lead, rep), _deal(make_lead, rep)
    client = client_for(rep)
    response = client.post("/pipeline/", {"deal": won.pk, "action": "won"})
    assert response.status_code == 302 and response["Location"] == "/pipeline/"
    # Lost without a reason: refused on the pipeline page itself, the deal's controls open.
    response = client.post("/pipeline/", {"deal": lost.pk, "action": "lost"})
    assert response.status_code == 400
    assert response.request["PATH_INFO"] == "/pipeline/"
    html = response.content.decode()
    assert "Lost needs a reason." in html
    assert f'id="deal-{lost.pk}"' in html and '<details class="deal-actions" open>' in html
    client.post("/pipeline/", {"deal": lost.pk, "action": "lost", "reason": "price"})
    won.refresh_from_db()
    lost.refresh_from_db()
    assert (won.status, won.lead.stage) == ("won", "customer")
    assert (lost.status, lost.lead.stage) == ("lost", "nurture")


def test_a_refusal_from_the_older_decide_address_comes_back_to_the_pipeline(
    client_for, make_lead, rep
):
    deal = _deal(make_lead, rep)
    response = client_for(rep).post(
        f"/queue/{deal.lead_id}/decide/",
        {"verb": "lose", "from_stage": "opportunity", "back": "pipeline"},
        follow=True,
    )
    assert response.redirect_chain == [("/pipeline/", 302)]
    assert "Lost needs a reason." in response.content.decode()
    deal.refresh_from_db()
    assert deal.status == "open"


def test_every_pipeline_move_checks_the_user_on_the_server(
    client_for, make_lead, rep, rep2, marketer
):
    deal = _deal(make_lead, rep)
    for data in (
        {"deal": deal.pk, "pipeline_stage": "commit"},
        {"deal": deal.pk, "action": "won"},
        {"deal": deal.pk, "action": "lost", "reason": "price"},
    ):
        response = client_for(rep2).post("/pipeline/", data)
        assert response.status_code == 403, data
        assert "belongs to rep" in response.content.decode()
    assert client_for(marketer).post("/pipeline/", {"deal": deal.pk}).status_code == 403
    deal.refresh_from_db()
    assert (deal.status, deal.pipeline_stage.slug) == ("open", "discovery")
    response = client_for(rep).post("/pipeline/", {"deal": "x"})
    assert response.status_code == 400 and "Choose a deal to move." in response.content.decode()
    assert client_for(rep).post("/pipeline/", {"deal": 99999, "action": "won"}).status_code == 404


def test_a_move_from_the_board_script_answers_the_board(client_for, make_lead, rep):
    deal = _deal(make_lead, rep, "2000")
    client = client_for(rep)
    data = {"deal": deal.pk, "from_pipeline_stage": "discovery", "pipeline_stage": "proposal"}
    response = client.post("/pipeline/", data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="board-wrap">') and "<h1>" not in html
    assert "moved to Proposal." in html
    # The same move again is stale: a 409 with the board and the reason.
    response = client.post("/pipeline/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "no longer in discovery: it is in Proposal now" in response.content.decode()


def test_overdue_close_dates_are_flagged_and_forecast_by_month(client_for, make_lead, rep):
    import datetime as dt

    late = _deal(make_lead, rep, "1000")  # discovery, 10 %
    soon = _deal(make_lead, rep, "3000", stage="proposal")  # 25 % by default
    last_month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).replace(day=3)
    Opportunity.objects.filter(pk=late.pk).update(expected_close=last_month)
    response = client_for(rep).get("/pipeline/")
    html = response.content.decode()
    assert f'class="deal overdue" id="deal-{late.pk}"' in html
    assert f'class="deal" id="deal-{soon.pk}"' in html
    assert "1</strong> deal past its expected close date" in html
    forecast = response.context["forecast"]
    proposal = PipelineStage.objects.get(slug="proposal").probability
    assert [(m.month, m.count, m.weighted, m.past) for m in forecast] == [
        (last_month.replace(day=1), 1, Decimal("100.00"), True),
        (
            soon.expected_close.replace(day=1),
            1,
            Decimal(3000 * proposal / 100).quantize(Decimal("0.01")),
            False,
        ),
    ]


def test_the_board_is_compact(client_for, make_lead, rep):
    for _ in range(3):
        _deal(make_lead, rep)
    html = client_for(rep).get("/pipeline/").content.decode()
    # One disclosure per card holds Move, Won and Lost; nothing else per card is a form.
    assert html.count('<details class="deal-actions"') == 3
    assert html.count("<form") == 3 * 3 + 1  # + log out


def test_managers_edit_pipeline_stages_and_probabilities(client_for, manager, rep):
    assert client_for(rep).get("/pipeline/stages/").status_code == 403
    client = client_for(manager)
    page = client.get("/pipeline/stages/")
    assert page.status_code == 200
    formset = page.context["formset"]
    data = {
        "form-TOTAL_FORMS": str(len(formset.forms)),
        "form-INITIAL_FORMS": str(formset.initial_form_count()),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, form in enumerate(formset.forms):
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if name == "id":
                value = form.instance.pk or ""
            if isinstance(value, bool):
                if value:
                    data[f"form-{index}-{name}"] = "on"
                continue
            data[f"form-{index}-{name}"] = "" if value is None else value
    data["form-0-probability"] = "15"
    last = len(formset.forms) - 1
    data.update(
        {
            f"form-{last}-name": "Legal review",
            f"form-{last}-slug": "legal",
            f"form-{last}-order": "35",
            f"form-{last}-probability": "80",
            f"form-{last}-is_active": "on",
        }
    )
    assert client.post("/pipeline/stages/", data).status_code == 302
    assert PipelineStage.objects.get(slug="discovery").probability == 15
    assert PipelineStage.objects.get(slug="legal").probability == 80

    data["form-0-probability"] = "150"
    data[f"form-{last}-slug"] = "legal-2"
    assert client.post("/pipeline/stages/", data).status_code == 400
    assert PipelineStage.objects.get(slug="discovery").probability == 15


def test_a_column_shows_the_deals_closing_first_and_counts_them_all(
    client_for, make_lead, rep, monkeypatch
):
    from funnel import pipeline

    monkeypatch.setattr(pipeline, "CARDS_PER_COLUMN", 2)
    deals = [_deal(make_lead, rep, "100") for _ in range(3)]
    Opportunity.objects.filter(pk=deals[0].pk).update(expected_close="2030-01-01")
    column = next(c for c in pipeline_board(rep) if c.stage.slug == "discovery")
    assert (column.count, column.total, column.hidden) == (3, Decimal("300"), 1)
    assert deals[0].pk not in [deal.pk for deal in column.deals]  # it closes last
    html = client_for(rep).get("/pipeline/").content.decode()
    assert f'id="deal-{deals[0].pk}"' not in html and f'id="deal-{deals[1].pk}"' in html
    assert "1 more deal closing later" in html
    assert "300.00" in html
