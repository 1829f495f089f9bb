"""Issue 14: a list asked for while the lists of a new version of the data are being built does not
hang behind the build: every request waits for the one build (not one build each); when the lists of
an earlier version exist it waits at most DSIKB_INDEX_WAIT, then gets those, marked as such; when
none exist yet, at most the query timeout, then a 503 with Retry-After and a message a person can
act on; once built, the list is answered."""

from __future__ import annotations

import threading

import pytest

from tests.support import make_app


def _building_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "browse-tables")


def test_requests_during_a_build_get_503_with_retry_after_then_the_list(kb_copy):
    from kb.index import browse

    app = make_app(kb_copy)
    app.config["DSIKB_SETTINGS"] = kb_copy.settings.replace(query_timeout=0.01)  # a request waits 10 ms
    client = app.test_client()
    kb_copy.bump()  # a new version of the data: its lists are not built yet
    answers = []

    def ask(url):
        resp = client.get(url)
        answers.append((resp.status_code, resp.headers.get("Retry-After"), resp.get_data(as_text=True)))

    threads = [threading.Thread(target=ask, args=(url,)) for url in
               ("/browse/organisation", "/browse/project.json", "/browse/organisation?country=spain",
                "/browse/project.csv")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert _building_threads() <= 1  # one build for all of them
    assert [a[0] for a in answers] == [503] * 4, answers
    for _, retry, body in answers:
        assert retry is not None and 5 <= int(retry) <= 300
        assert "being built" in body and "try again in" in body
    browse.tables(kb_copy)  # the build goes on without them; wait for it as warm-up does
    assert browse.refresher.state(kb_copy).builds == 1  # done, and no second build started
    assert browse._cache[kb_copy][0] == kb_copy.generation
    page = client.get("/browse/organisation.json")
    assert page.status_code == 200 and page.get_json()["total"] > 0


def test_requests_during_a_build_get_the_previous_lists_at_once(tiny_kb):
    from kb.index import browse

    browse.tables(tiny_kb)
    before = tiny_kb.generation
    app = make_app(tiny_kb)
    app.config["DSIKB_SETTINGS"] = tiny_kb.settings.replace(index_wait=0.01)  # a request waits 10 ms
    client = app.test_client()
    answers = []

    def ask(url):
        resp = client.get(url)
        answers.append((url, resp.status_code, resp.get_data(as_text=True)))

    browse.refresher.hold.clear()  # the new generation's build waits until the requests are answered
    try:
        tiny_kb.bump()
        threads = [threading.Thread(target=ask, args=(url,)) for url in
                   ("/browse/organisation", "/browse/project.json", "/browse/organisation?country=spain",
                    "/browse/project.csv")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)  # none queued behind the paused build
        assert _building_threads() <= 1
    finally:
        browse.refresher.hold.set()
    assert sorted(a[1] for a in answers) == [200] * 4, answers
    listed = next(body for url, _, body in answers if url.endswith(".json"))
    assert f'"generation":{before}' in listed.replace(" ", "") and '"current":false' in listed.replace(" ", "")
    assert browse.tables(tiny_kb, wait=30) is browse._cache[tiny_kb][1]
    assert browse._cache[tiny_kb][0] == tiny_kb.generation


def test_each_generation_is_built_once_then_answered_from_memory(tiny_kb):
    from kb.index import browse

    tiny_kb.bump()
    first = browse.tables(tiny_kb)
    assert set(first) == set(browse.BROWSE_TYPES)
    assert browse.tables(tiny_kb, wait=0) is first  # cached for the generation: no wait at all
    tiny_kb.bump()
    again = browse.tables(tiny_kb, wait=30)
    assert again is not first and browse._cache[tiny_kb][0] == tiny_kb.generation
    with pytest.raises(browse.NotFound):
        browse.table(tiny_kb, "nothing")
