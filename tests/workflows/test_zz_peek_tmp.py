from tests.workflows.test_migration import *
def test_peek(session, core_deployed):
    case = at_mediate(session, core_deployed)
    text = _replace(CORE, 'id="mediate"', 'id="mediation"')
    text = text.replace(">mediate<", ">mediation<").replace('"mediate"', '"mediation"')
    text = text.replace('sourceRef="mediate"', 'sourceRef="mediation"').replace('targetRef="mediate"', 'targetRef="mediation"')
    deploy_text(session, text)
    print("\n".join(migration.check_migration(session, case).lines()))
    deploy_text(session, with_register_renamed())
    print("\n".join(migration.check_migration(session, case).lines()))
    deploy_text(session, with_visit())
    print("\n".join(migration.check_migration(session, case).lines()))
