def test_the_lead_page_links_to_its_nurture_history(client, rep, make_lead):
    lead = make_lead("nurture")
    client.force_login(rep)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert f'href="/nurture/leads/{lead.pk}/">Nurture messages and engagement</a>' in html
    assert client.get(f"/nurture/leads/{lead.pk}/").status_code == 200
