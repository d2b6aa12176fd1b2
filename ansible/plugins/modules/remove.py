#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (C) 2026 the rootsync authors

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: remove
short_description: Remove or distrust roots in every store of a host (rootsync remove / distrust)
description:
  - The compromised-CA morning: takes the given roots out of the host's stores
    (C(action=remove)), or records distrust where a store can say it and removes them where
    it cannot (C(action=distrust)), with rootsync's backups and all-or-nothing rollback.
  - In check mode this is C(--dry-run): the plan is returned and nothing is written.
  - A fingerprint prefix that matches no certificate in the named stores, or several, fails
    the host with rootsync's message and hint.
version_added: "0.1.0"
options:
  fingerprints:
    description: The roots, by the first hex digits (8 or more) of their SHA-256 fingerprints.
    type: list
    elements: str
    required: true
  action:
    description: C(remove) takes the roots out; C(distrust) records distrust where a store can (NSS, system stores with a blocklist) and removes them elsewhere.
    type: str
    choices: [remove, distrust]
    default: remove
  stores:
    description: The stores to change (specs, or mappings with C(store)). Give this or C(all_stores).
    type: list
    elements: raw
  all_stores:
    description: Every store C(rootsync discover) finds on the host that exists.
    type: bool
    default: false
  all_users:
    description: With C(all_stores), the stores of every user with a login shell and a home folder.
    type: bool
    default: false
  password_file:
    description: A file on the host whose first line is the stores' password.
    type: path
  password:
    description: The stores' password itself; handed to rootsync in its environment, never on a command line, and never logged.
    type: str
  binary:
    description: The rootsync binary on the host.
    type: path
    default: rootsync
  state_dir:
    description: rootsync's state folder (backups, lock, journal); its default when omitted.
    type: path
author: the rootsync authors
"""

EXAMPLES = r"""
- name: The old issuing CA was compromised; distrust it everywhere
  rootsync.trust.remove:
    fingerprints: ["4e1f2a9c7d"]
    action: distrust
    all_stores: true
    all_users: true
"""

RETURN = r"""
plan:
  description: The plan, as C(rootsync remove -o json) prints it (schema rootsync.plan/v1, mode remove or distrust).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rootsync.trust.plugins.module_utils import rootsync as rs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            fingerprints=dict(type="list", elements="str", required=True),
            action=dict(type="str", default="remove", choices=["remove", "distrust"]),
            stores=dict(type="list", elements="raw"),
            all_stores=dict(type="bool", default=False),
            all_users=dict(type="bool", default=False),
            password_file=dict(type="path"),
            password=dict(type="str", no_log=True),
            binary=dict(type="path", default="rootsync"),
            state_dir=dict(type="path"),
        ),
        required_one_of=[("stores", "all_stores")],
        mutually_exclusive=[("stores", "all_stores"), ("password_file", "password")],
        supports_check_mode=True,
    )
    p = module.params
    specs = [s.get("store") if isinstance(s, dict) else s for s in (p.get("stores") or [])]
    args = [p["action"]] + list(p["fingerprints"])
    if specs:
        args += ["--from" if p["action"] == "remove" else "--in"] + specs
    if p["all_stores"]:
        args.append("--all-stores")
    if p["all_users"]:
        args.append("--all-users")
    args += ["--output", "json"]
    if p.get("state_dir"):
        args += ["--state-dir", p["state_dir"]]
    args += rs.password_args(p)
    if module.check_mode:
        args.append("--dry-run")

    before = rs.entries_before(module, specs) if module._diff else []
    _, plan, _ = rs.run(module, args, password=p.get("password"), ok=(rs.EXIT_OK, rs.EXIT_DRIFT))
    plan = plan or {}
    result = dict(changed=bool(plan.get("changed")), plan=plan, warnings_rootsync=rs.plan_warnings(module, plan))
    if module._diff:
        result["diff"] = rs.plan_diffs(plan, before, specs)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
