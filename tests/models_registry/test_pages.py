from tests.factories import ModelFactory


def test_the_models_page_lists_enabled_models_in_words(client, db):
    ModelFactory(
        id="descriptors",
        title="Descriptors",
        description="Weighs molecules.",
        output_columns=["weight"],
    )
    ModelFactory(id="retired", title="Retired model", enabled=False)

    response = client.get("/models/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Weighs molecules." in page
    assert "<code>weight</code>" in page
    assert "/requests/new/?model=descriptors" in page
    assert "Retired model" not in page


def test_the_new_request_page_chooses_the_only_model(client, db):
    ModelFactory(id="descriptors", title="Descriptors")

    response = client.get("/requests/new/")

    assert response.context["selected_model"] == "descriptors"


def test_a_bad_page_number_shows_the_last_page(client, db):
    ModelFactory(id="descriptors", title="Descriptors")

    response = client.get("/models/?page=999")

    assert response.status_code == 200
    assert "Descriptors" in response.content.decode()
