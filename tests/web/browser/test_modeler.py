"""The diagram editor in headless Chromium: the admin opens a shipped diagram in the bpmn-js
Modeler (from node_modules), validates it (ok), adds a task the engine cannot run (the validator
names it and the editor highlights it), then deploys a relabelled task as new versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.helpers import DESKTOP, login, shot

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def shipped(session: Any, web_world: Any) -> Any:
    from workflows.deploy import deploy, read_bundle, read_forms

    deploy(session, read_bundle([ROOT / "bpmn"]), read_forms(ROOT / "forms" / "definitions"))
    session.commit()
    return web_world


def _open_editor(new_page: Any, lang: str, name: str = "intake.bpmn") -> Any:
    page = new_page(lang, DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: errors.append("external: " + req.url)
            if not req.url.startswith(page.base) and not req.url.startswith("data:") else None)
    page.errors = errors
    login(page, "admin")
    if lang == "en" and page.locator("button[name=lang][value=en]").count():
        page.click("button[name=lang][value=en]")
        page.wait_for_load_state()
    page.click("nav.main-nav >> text=" + ("流程管理" if lang == "zh" else "Processes"))
    page.wait_for_url("**/admin/processes")
    shot(page, f"admin-processes-{lang}-desktop")
    page.goto(page.base + f"/admin/diagrams/edit?file={name}")
    page.wait_for_function("window.modelerState && (window.modelerState.ready || window.modelerState.error)")
    assert page.evaluate("window.modelerState.error") is None
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_admin_opens_the_editor_and_validates(new_page: Any, shipped: Any, lang: str) -> None:
    page = _open_editor(new_page, lang)
    assert page.locator("#modeler svg .djs-shape").count() > 10  # the diagram is drawn
    assert page.locator("#modeler .djs-palette").is_visible()  # a modeler, not a viewer
    # bpmn-js's own palette speaks the page's language
    palette_task = "创建任务" if lang == "zh" else "Create task"
    assert page.locator(f'#modeler .djs-palette .entry[aria-label="{palette_task}"]').count() == 1
    assert page.evaluate("window.modelerState.warnings") == 0
    watermark = page.locator("#modeler .bjs-powered-by")
    assert watermark.is_visible()
    watermark.scroll_into_view_if_needed()
    box = watermark.bounding_box()
    covering = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('.bjs-powered-by') !== null",
                             [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert covering, "the bpmn.io watermark is covered"
    assert page.is_disabled("#modeler-deploy")  # nothing changed yet
    page.click("#modeler-validate")
    page.wait_for_function("window.modelerState.lastValidation && !window.modelerState.busy")
    assert page.evaluate("window.modelerState.lastValidation.ok") is True
    expected = "整套流程文件全部校验通过" if lang == "zh" else "All files of the bundle are valid"
    assert expected in page.text_content("#modeler-status")
    assert page.locator("#modeler-results .tag-ok").count() >= 9
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, f"modeler-valid-{lang}-desktop", full_page=False)
    assert not page.errors, page.errors


def test_problem_element_is_highlighted_then_a_fix_is_deployed(new_page: Any, shipped: Any) -> None:
    page = _open_editor(new_page, "en")
    # A new user task inside the mediator lane: its form key defaults to its id, and no form exists.
    created = page.evaluate("""() => {
      const modeler = window.modelerState.modeler;
      const registry = modeler.get('elementRegistry');
      const task = registry.get('register_application');
      const participant = registry.filter(e => e.type === 'bpmn:Participant')[0];
      const shape = modeler.get('modeling').createShape({ type: 'bpmn:UserTask' },
        { x: task.x + task.width / 2, y: task.y + task.height + 60 }, participant);
      modeler.get('modeling').updateLabel(shape, 'New step');
      return shape.id;
    }""")
    assert page.is_enabled("#modeler-deploy")
    assert page.text_content("#modeler-changed") == "Changes not deployed yet"
    page.click("#modeler-validate")
    page.wait_for_function("window.modelerState.lastValidation && !window.modelerState.busy")
    assert page.evaluate("window.modelerState.lastValidation.ok") is False
    assert created in page.evaluate("window.modelerState.marked")
    assert page.locator(f'#modeler .djs-element.fq-problem[data-element-id="{created}"]').count() == 1
    assert page.locator(f'#modeler .djs-element.selected[data-element-id="{created}"]').count() == 1
    assert created in page.text_content("#modeler-results")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "modeler-problem-en-desktop", full_page=False)
    # Undo the new task, relabel an existing one and deploy.
    page.evaluate("""() => {
      const modeler = window.modelerState.modeler;
      modeler.get('commandStack').undo(); modeler.get('commandStack').undo();
      modeler.get('modeling').updateLabel(modeler.get('elementRegistry').get('register_application'), '登记人民调解申请');
    }""")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#modeler-deploy")
    page.wait_for_function("window.modelerState.lastDeploy && !window.modelerState.busy")
    deployed = page.evaluate("window.modelerState.lastDeploy")
    assert deployed["ok"] is True
    assert {v["process_id"] for v in deployed["created"]} >= {"intake", "dispute"}
    assert "intake v" in page.text_content("#modeler-results")
    assert page.is_disabled("#modeler-deploy")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "modeler-deployed-en-desktop", full_page=False)
    page.goto(page.base + "/admin/processes/intake")
    assert "v2" in page.text_content("table")  # v1 is the shipped bundle
    shot(page, "admin-process-intake-en-desktop")
    assert not page.errors, page.errors


def test_modeler_round_trip_keeps_every_shipped_element(new_page: Any, shipped: Any) -> None:
    """Importing and exporting each shipped diagram in the Modeler loses nothing the engine reads
    (spiffworkflow extensions, scripts, conditions, timers, documentation)."""
    page = _open_editor(new_page, "zh")
    names = sorted(p.name for p in (ROOT / "bpmn").glob("*.bpmn"))
    differences = page.evaluate("""async (names) => {
      const modeler = window.modelerState.modeler;
      const count = (xml) => {
        const doc = new DOMParser().parseFromString(xml, 'application/xml');
        const found = {};
        for (const el of doc.getElementsByTagName('*')) {
          const key = el.namespaceURI + ' ' + el.localName;
          found[key] = (found[key] || 0) + 1;
        }
        return [found, doc.documentElement.textContent.replace(/\\s+/g, ' ').length];
      };
      const result = {};
      for (const name of names) {
        const original = await (await fetch('/admin/diagrams/file/' + name)).text();
        const { warnings } = await modeler.importXML(original);
        const { xml } = await modeler.saveXML({ format: true });
        const [before, beforeText] = count(original);
        const [after, afterText] = count(xml);
        const diff = Object.keys({ ...before, ...after }).filter(k => before[k] !== after[k])
          .map(k => k + ': ' + before[k] + ' -> ' + after[k]);
        if (warnings.length) diff.push('warnings: ' + warnings.length);
        if (beforeText !== afterText) diff.push('text length: ' + beforeText + ' -> ' + afterText);
        if (diff.length) result[name] = diff;
      }
      return result;
    }""", names)
    assert differences == {}
