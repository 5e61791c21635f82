"""The template editor: managers save checked, audited versions; the next send uses the
newest one; refused templates save nothing; who may see and edit it. SQLite and PostgreSQL."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, make_url, select, text

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.db import template_tables as tt
from arrears.adapters.db.tables import metadata
from arrears.domain.compliance import cn_pack
from arrears.jobs.cycle import status_from_store
from arrears.services.action_sending import MessageTexts, send_actions
from arrears.services.message_templates import TEMPLATES
from arrears.services.strategy_files import load_arms
from arrears.services.strategy_run import propose_from_status, read_features
from arrears.web.app import create_app
from arrears.web.context import WebContext
from fixtures.web import AS_OF, FixedClock, build_desk_store, csrf_of, logged_in, make_web

TZ = "Asia/Shanghai"
TEXTS = MessageTexts("测试银行", "手机银行", "客服热线")
BORROWERS = 150  # enough for the demo book to propose SMS and a letter on AS_OF


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A demo store of this module's own (saved templates would change other tests' sends)."""
    workdir = tmp_path_factory.mktemp(f"templates-{request.param}")
    if request.param == "sqlite":
        built = build_desk_store(f"sqlite:///{workdir / 'store.db'}", workdir, BORROWERS)
        yield built
        built.dispose()
        return
    server = request.getfixturevalue("pg_url")
    name = f"tpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    built = build_desk_store(
        make_url(server).set(database=name).render_as_string(hide_password=False),
        workdir,
        BORROWERS,
    )
    yield built
    built.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def app(engine: Engine) -> Any:
    return make_web(engine)


@pytest.fixture(scope="module")
def manager(app: Any) -> TestClient:
    return logged_in(app, "manager")


def _versions(engine: Engine, name: str | None = None, locale: str | None = None) -> int:
    v = tt.message_template_versions
    q = select(func.count()).select_from(v)
    if name is not None:
        q = q.where(v.c.name == name)
    if locale is not None:
        q = q.where(v.c.locale == locale)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _audits(engine: Engine) -> int:
    with engine.connect() as conn:
        q = (
            select(func.count())
            .select_from(d.audit_log)
            .where(d.audit_log.c.action == "save_template")
        )
        return int(conn.execute(q).scalar_one())


def _save(client: TestClient, name: str, locale: str, body: str, **extra: str) -> Any:
    page = client.get(f"/templates/edit?name={name}&locale={locale}")
    assert page.status_code == 200, page.text
    return client.post(
        "/templates",
        data={"csrf_token": csrf_of(page.text), "name": name, "locale": locale, "body": body}
        | extra,
        follow_redirects=False,
    )


def _queued_bodies(engine: Engine) -> list[Any]:
    """What the action-sending path queues for AS_OF (in a transaction rolled back)."""
    status = status_from_store(engine, AS_OF)
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _, history, _ = read_features(conn, AS_OF, TZ)
            result = propose_from_status(conn, status, AS_OF, load_arms(), TZ, gate=False)
            send_actions(
                conn,
                result.proposals,
                status,
                history,
                AS_OF,
                FixedClock().now(),
                TZ,
                cn_pack(),
                TEXTS,
            )
            o = mt.outbox_messages
            return list(conn.execute(select(o.c.template, o.c.locale, o.c.body)))
        finally:
            trans.rollback()


def test_the_table_matches_its_migration(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [x for x in diffs if "message_template_versions" in repr(x)] == []


def test_the_list_shows_every_template_and_language(engine: Engine, manager: TestClient) -> None:
    page = manager.get("/templates")
    assert page.status_code == 200
    for name, locale in TEMPLATES:
        assert f'data-template="{name}" data-locale="{locale}"' in page.text
    assert 'data-template="letter_demand" data-locale="zh_CN"' in page.text
    assert 'href="/templates"' in page.text  # the nav link


def test_saved_zh_templates_are_sent_next(engine: Engine, manager: TestClient) -> None:
    from arrears.adapters.channels.letters import letter_template

    before = _queued_bodies(engine)
    sms = sorted({r.template for r in before if r.template.startswith("sms_")})
    letters = sorted({r.template for r in before if r.template.startswith("letter_")})
    assert sms and letters and {r.locale for r in before} == {"zh_CN"}, "demo book changed?"
    assert all("【新版】" not in r.body and "样本标记" not in r.body for r in before)
    name, letter = sms[0], letters[0]
    start = _versions(engine, name, "zh_CN")
    _, body = TEMPLATES[(name, "zh_CN")]
    r = _save(manager, name, "zh_CN", "【新版】" + body, note="更友好的措辞")
    assert r.status_code == 303, r.text
    assert _versions(engine, name, "zh_CN") == start + 1
    assert r.headers["location"].endswith(f"saved={start + 1}")
    page = manager.get(r.headers["location"])
    assert f'data-current="{start + 1}"' in page.text and "更友好的措辞" in page.text
    listing = manager.get("/templates").text
    assert f'data-template="{name}" data-locale="zh_CN" data-version="{start + 1}"' in listing
    marked = letter_template("zh_CN").replace("</h1>", "</h1>\n<p>样本标记</p>", 1)
    assert _save(manager, letter, "zh_CN", marked).status_code == 303
    after = _queued_bodies(engine)
    assert len(after) == len(before)
    for r in after:
        if r.template == name:
            assert r.body.startswith("【新版】【测试银行】")
        elif r.template == letter:
            assert "样本标记" in r.body and "民法典" in r.body
        else:
            assert "【新版】" not in r.body and "样本标记" not in r.body


def test_the_save_is_audited_with_who_and_which_version(
    engine: Engine, manager: TestClient
) -> None:
    _, body = TEMPLATES[("sms_due_today", "en")]
    r = _save(manager, "sms_due_today", "en", body + " Thank you.", note="polite")
    assert r.status_code == 303
    version = int(r.headers["location"].rsplit("=", 1)[1])
    a = d.audit_log
    with engine.connect() as conn:
        row = conn.execute(
            select(a).where(a.c.action == "save_template").order_by(a.c.audit_id.desc()).limit(1)
        ).one()
    assert (row.actor, row.role, row.subject_type) == ("manager", "manager", "template")
    assert row.subject_id == "sms_due_today/en" and row.detail["version"] == version
    assert row.reason == "polite"


def test_a_template_without_pay_how_is_refused_and_nothing_saved(
    engine: Engine, manager: TestClient
) -> None:
    _, body = TEMPLATES[("sms_overdue_d1", "zh_CN")]
    bad = body.replace("{{ pay_how }}", "App")
    before, audits = _versions(engine), _audits(engine)
    r = _save(manager, "sms_overdue_d1", "zh_CN", bad)
    assert r.status_code == 422
    assert "{{ pay_how }}" in html.unescape(r.text) and 'data-field="pay_how"' in r.text
    assert html.escape(bad, quote=False) in r.text  # the typed text stays in the editor
    assert (_versions(engine), _audits(engine)) == (before, audits)


def test_a_cn_x1_term_is_refused(engine: Engine, manager: TestClient) -> None:
    _, body = TEMPLATES[("sms_overdue_reminder", "zh_CN")]
    before = _versions(engine)
    for bad in (body + "再不还款后果自负。", body.replace("{{ name }}", "{{ name }}老赖")):
        r = _save(manager, "sms_overdue_reminder", "zh_CN", bad)
        assert r.status_code == 422 and "CN-X1" in r.text
    r = _save(
        manager,
        "email_overdue",
        "en",
        TEMPLATES[("email_overdue", "en")][1],
        subject="Pay now or the police will call",
    )
    assert r.status_code == 422 and "CN-X1" in r.text and "police" in r.text
    assert _versions(engine) == before


def test_us_pack_email_needs_an_opt_out(engine: Engine) -> None:
    us = create_app(
        WebContext(
            engine=engine,
            clock=FixedClock(),
            default_locale="en",
            lender_timezone=TZ,
            cookie_secure=True,
            compliance_pack="US",
        )
    )
    client = logged_in(us, "manager")
    subject, body = TEMPLATES[("email_overdue", "en")]
    assert subject is not None
    before = _versions(engine, "email_overdue")
    r = _save(client, "email_overdue", "en", body.replace("{{ opt_out }}", ""), subject=subject)
    assert r.status_code == 422 and "US-E1" in r.text
    assert _versions(engine, "email_overdue") == before
    r = _save(client, "email_overdue", "en", body, subject=subject)  # with the opt-out: saved
    assert r.status_code == 303
    assert _versions(engine, "email_overdue") == before + 1


def test_syntax_errors_and_unknown_variables_are_refused(
    engine: Engine, manager: TestClient
) -> None:
    _, body = TEMPLATES[("sms_broken_promise", "en")]
    before = _versions(engine)
    r = _save(manager, "sms_broken_promise", "en", body + "\n{% if days > %}late{% endif %}")
    assert r.status_code == 422 and "line 2" in r.text
    r = _save(manager, "sms_broken_promise", "en", body + " {{ borrower.id_number }}")
    assert r.status_code == 422 and "unknown variable" in r.text and "borrower" in r.text
    assert _versions(engine) == before


def test_a_letter_must_keep_its_cn_r2_elements(engine: Engine, manager: TestClient) -> None:
    from arrears.adapters.channels.letters import letter_template

    before = _versions(engine)
    source = letter_template("zh_CN").replace("{{ how_to_object }}", "")
    r = _save(manager, "letter_demand", "zh_CN", source)
    assert r.status_code == 422 and "CN-R2" in r.text and "how_to_object" in r.text
    assert _versions(engine) == before


def test_a_stale_editor_does_not_overwrite_a_newer_version(
    engine: Engine, manager: TestClient
) -> None:
    _, body = TEMPLATES[("sms_pre_due_d3", "en")]
    assert _save(manager, "sms_pre_due_d3", "en", body + " (1)").status_code == 303
    current = _versions(engine, "sms_pre_due_d3", "en")
    r = _save(manager, "sms_pre_due_d3", "en", body + " (2)", base_version=str(current - 1))
    assert r.status_code == 422 and "reload" in r.text
    assert _versions(engine, "sms_pre_due_d3", "en") == current


def test_preview_renders_sample_values_and_saves_nothing(engine: Engine, app: Any) -> None:
    client = logged_in(app, "compliance")  # compliance may read and preview, not save
    page = client.get("/templates/edit?name=sms_overdue_d1&locale=zh_CN")
    assert page.status_code == 200 and 'id="template-save"' not in page.text
    before = _versions(engine)
    _, body = TEMPLATES[("sms_overdue_d1", "zh_CN")]
    r = client.post(
        "/templates/preview",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "sms_overdue_d1",
            "locale": "zh_CN",
            "body": body,
        },
    )
    assert r.status_code == 200
    assert "张*您好" in r.text and "¥1,234.56" in r.text  # masked sample name, zh amount
    r = client.post(
        "/templates",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "sms_overdue_d1",
            "locale": "zh_CN",
            "body": body,
        },
    )
    assert r.status_code == 403
    assert _versions(engine) == before


@pytest.mark.parametrize("user", ["collector1", "field1"])
def test_collectors_may_not_open_or_save_templates(engine: Engine, app: Any, user: str) -> None:
    client = logged_in(app, user)
    assert client.get("/templates").status_code == 403
    assert client.get("/templates/edit?name=sms_due_today&locale=zh_CN").status_code == 403
    assert 'href="/templates"' not in client.get("/queue").text
    csrf = csrf_of(client.get("/queue").text)
    before, audits = _versions(engine), _audits(engine)
    r = client.post(
        "/templates",
        data={
            "csrf_token": csrf,
            "name": "sms_due_today",
            "locale": "zh_CN",
            "body": TEMPLATES[("sms_due_today", "zh_CN")][1],
        },
    )
    assert r.status_code == 403
    assert (_versions(engine), _audits(engine)) == (before, audits)


def test_a_new_template_name_must_name_its_channel(manager: TestClient) -> None:
    r = manager.get("/templates/edit?name=reminder&locale=zh_CN")
    assert r.status_code == 422 and "sms_" in r.text
    r = manager.get("/templates/edit?name=sms_new_notice&locale=zh_CN")
    assert r.status_code == 200 and "template-body" in r.text


def test_versions_history_and_lookup_in_the_service(store: Engine) -> None:
    from arrears.domain.errors import ValidationError
    from arrears.domain.people import Actor, Role
    from arrears.services import template_store as ts

    who = Actor("li", Role.MANAGER)
    now = FixedClock().now()
    _, body = TEMPLATES[("sms_due_today", "en")]
    with store.connect() as conn:
        assert ts.current(conn, "sms_due_today", "en") == ts.TemplateVersion(
            "sms_due_today", "en", "sms", None, body, 0
        )
        assert ts.current(conn, "sms_unknown", "en") is None
    with store.begin() as conn:
        for n in (1, 2, 3):
            assert ts.save_template(conn, who, "sms_due_today", "en", f"{body} v{n}", now) == n
        with pytest.raises(ValidationError):
            ts.save_template(conn, who, "sms_due_today", "en", body, now, base_version=2)
    with store.connect() as conn:
        assert [v.version for v in ts.history(conn, "sms_due_today", "en")] == [3, 2, 1]
        assert ts.current(conn, "sms_due_today", "en").body.endswith(" v3")  # type: ignore[union-attr]
        assert ts.version_of(conn, "sms_due_today", "en", 2).body.endswith(" v2")
        latest = ts.stored_latest(conn)
        assert set(latest) == {("sms_due_today", "en")}
        assert latest[("sms_due_today", "en")].created_at == now
        assert ts.history(conn, "sms_due_today", "zh_CN") == []
        rows = {(t.name, t.locale): t for t in ts.list_templates(conn)}
        assert rows[("sms_due_today", "en")].version == 3
        assert rows[("sms_due_today", "zh_CN")].version == 0
        audited = conn.execute(
            select(func.count())
            .select_from(d.audit_log)
            .where(d.audit_log.c.action == "save_template", d.audit_log.c.actor == "li")
        ).scalar_one()
    assert audited == 3


def test_saved_versions_are_append_only_on_postgresql(store: Engine) -> None:
    from sqlalchemy import update
    from sqlalchemy.exc import DBAPIError

    from arrears.domain.people import Actor, Role
    from arrears.services import template_store as ts

    if store.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    _, body = TEMPLATES[("sms_due_today", "en")]
    with store.begin() as conn:
        who, now = Actor("li", Role.MANAGER), FixedClock().now()
        ts.save_template(conn, who, "sms_due_today", "en", body, now)
    v = tt.message_template_versions
    with pytest.raises(DBAPIError), store.begin() as conn:
        conn.execute(update(v).values(body="changed"))
