"""The ACL rules, without a server."""

from __future__ import annotations

from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2
from signaling_server.acl import AccessPolicy, may_discover, may_relay

ECHO = ActrTypeName("acme", "echo")
CLIENT = ActrTypeName("acme", "client")
OTHER = ActrTypeName("other", "client")
ALLOW, DENY = actr_pb2.AclRule.ALLOW, actr_pb2.AclRule.DENY


def aid(serial: int, t: ActrTypeName, realm: int = 1) -> ActorId:
    return ActorId(realm, serial, t)


def principal(realm: int | None = None, t: ActrTypeName | None = None):
    p = actr_pb2.AclRule.Principal()
    if realm is not None:
        p.realm.realm_id = realm
    if t is not None:
        p.actr_type.CopyFrom(t.to_proto())
    return p


def acl(*rules: tuple[int, list]) -> AccessPolicy:
    msg = actr_pb2.Acl(
        rules=[actr_pb2.AclRule(permission=perm, principals=ps) for perm, ps in rules]
    )
    return AccessPolicy.from_proto(msg)


def test_without_rules_only_the_same_type_gets_in():
    policy = AccessPolicy.from_proto(None)
    echo = aid(1, ECHO)
    assert policy.admits(aid(2, ECHO), echo)
    assert policy.admits(aid(2, ActrTypeName("acme", "echo", "9.9")), echo)  # version ignored
    assert not policy.admits(aid(2, CLIENT), echo)
    assert not policy.admits(aid(2, OTHER), echo)


def test_allow_rule_admits_the_matching_type_only():
    policy = acl((ALLOW, [principal(t=CLIENT)]))
    echo = aid(1, ECHO)
    assert policy.admits(aid(2, CLIENT), echo)
    assert not policy.admits(aid(2, OTHER), echo)
    assert policy.admits(aid(3, ECHO), echo)


def test_principal_fields_must_all_match():
    policy = acl((ALLOW, [principal(realm=2, t=CLIENT)]))
    echo = aid(1, ECHO, realm=2)
    assert policy.admits(aid(2, CLIENT, realm=2), echo)
    assert not policy.admits(aid(2, CLIENT, realm=3), echo)
    assert not policy.admits(aid(2, OTHER, realm=2), echo)


def test_empty_principal_matches_everyone_and_rule_without_principals_nobody():
    assert acl((ALLOW, [principal()])).admits(aid(2, OTHER), aid(1, ECHO))
    assert not acl((ALLOW, [])).admits(aid(2, OTHER), aid(1, ECHO))


def test_deny_wins_over_allow_and_over_same_type():
    policy = acl((ALLOW, [principal()]), (DENY, [principal(t=CLIENT)]))
    echo = aid(1, ECHO)
    assert not policy.admits(aid(2, CLIENT), echo)
    assert policy.admits(aid(2, OTHER), echo)
    no_peers = acl((DENY, [principal(t=ECHO)]))
    assert not no_peers.admits(aid(2, ECHO), echo)


def test_realms_are_never_crossed_whatever_the_rules():
    open_policy = acl((ALLOW, [principal()]))
    a, b = aid(1, ECHO, realm=1), aid(2, ECHO, realm=2)
    assert not may_discover(a, b, open_policy)
    assert not may_relay(a, open_policy, b, open_policy)


def test_relay_needs_only_one_side_to_admit_the_other():
    caller, callee = aid(1, CLIENT), aid(2, ECHO)
    caller_policy = AccessPolicy.from_proto(None)  # does not list the callee
    callee_policy = acl((ALLOW, [principal(t=CLIENT)]))
    assert may_relay(caller, caller_policy, callee, callee_policy)
    # The answer flows back although the caller's ACL does not admit the callee.
    assert may_relay(callee, callee_policy, caller, caller_policy)
    assert not may_discover(callee, caller, caller_policy)
    stranger = aid(3, OTHER)
    assert not may_relay(stranger, AccessPolicy(), callee, callee_policy)


def test_an_explicit_deny_of_the_target_beats_the_senders_acl():
    a, b = aid(1, ECHO), aid(2, ECHO)
    b_denies_a_type = acl((DENY, [principal(t=ECHO)]))
    a_default = AccessPolicy()  # admits b: same type
    assert not may_relay(a, a_default, b, b_denies_a_type)
    assert may_relay(b, b_denies_a_type, a, a_default)
