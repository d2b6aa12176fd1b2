#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (C) 2026 the rootsync authors

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sync
short_description: Bring trust stores in line with their sources (one rootsync job)
description:
  - Carries out one rootsync job on the host with the C(rootsync) binary installed there
    (see the C(rootsync.trust.install) role): the sources' trust is merged (distrust wins),
    and every target is changed all-or-nothing, after a backup.
  - In check mode this is C(rootsync run --dry-run): the plan is returned and nothing is
    written, not even rootsync's lock, journal or backups.
  - In diff mode each target is shown before and after, one line per certificate.
  - A failure comes back as a failed result with rootsync's message and hint; a job that
    fails changes none of its targets.
version_added: "0.1.0"
options:
  sources:
    description: Store specs whose trust is merged, e.g. C(system) or C(pem:/srv/pki/corp-root.pem).
    type: list
    elements: str
    required: true
  targets:
    description:
      - Stores to bring in line. Each is a spec, or a mapping with C(store) and optionally
        C(password_file), C(hooks) (argument lists run after the target changed) and C(hook_timeout).
    type: list
    elements: raw
    required: true
  mode:
    description: C(add) never removes; C(prune) also removes what rootsync added and the sources dropped; C(mirror) makes targets exactly the sources.
    type: str
    choices: [add, prune, mirror]
    default: add
  purposes:
    description: Only trust for these purposes.
    type: list
    elements: str
    choices: [server-auth, client-auth, email, code-signing]
  origin:
    description: Narrow the sources by origin (local roots added by the organisation, public roots shipped by the distribution, or all); rootsync's default when omitted.
    type: str
    choices: [local, public, all]
  exclude:
    description: Certificates left out, by the first hex digits (8 or more) of their SHA-256 fingerprint.
    type: list
    elements: str
  only:
    description: Consider only these certificates (fingerprint prefixes); others are left alone.
    type: list
    elements: str
  include_expired:
    description: Keep expired certificates.
    type: bool
    default: false
  include_non_ca:
    description: Keep certificates that are not CA certificates.
    type: bool
    default: false
  max_removals:
    description: Removals each target may take even when rootsync's mass-removal guard would refuse them.
    type: int
  password_file:
    description: A file on the host whose first line is the stores' password.
    type: path
  password:
    description: The stores' password itself; handed to rootsync in its environment, never on a command line, and never logged.
    type: str
  name:
    description: The job's name in rootsync's messages.
    type: str
    default: ansible
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
- name: nginx accepts client certificates of the corporate roots only
  rootsync.trust.sync:
    sources: [system]
    origin: local
    purposes: [client-auth]
    targets:
      - store: pem:/etc/nginx/client-ca.pem
        hooks: [["nginx", "-t"], ["nginx", "-s", "reload"]]
"""

RETURN = r"""
plan:
  description: The plan, as C(rootsync diff -o json) prints it (schema rootsync.plan/v1).
  returned: always
  type: dict
warnings_rootsync:
  description: rootsync's warnings (code, message, certificates), of the sources and of each target.
  returned: always
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rootsync.trust.plugins.module_utils import rootsync as rs


def job_config(p):
    targets = []
    for t in p["targets"]:
        if isinstance(t, str):
            targets.append(t)
            continue
        if not isinstance(t, dict) or "store" not in t:
            raise ValueError("a target is a store spec or a mapping with 'store': %r" % (t,))
        entry = {"store": t["store"]}
        if t.get("password_file"):
            entry["password-file"] = t["password_file"]
        if t.get("hooks"):
            entry["hooks"] = t["hooks"]
        if t.get("hook_timeout"):
            entry["hook-timeout"] = t["hook_timeout"]
        targets.append(entry)
    job = {"sources": p["sources"], "targets": targets, "mode": p["mode"]}
    if p.get("purposes"):
        job["purposes"] = p["purposes"]
    if p.get("origin"):
        job["origin"] = p["origin"]
    if p.get("exclude"):
        job["exclude"] = p["exclude"]
    if p.get("only"):
        job["only"] = p["only"]
    if p.get("include_expired"):
        job["include-expired"] = True
    if p.get("include_non_ca"):
        job["include-non-ca"] = True
    if p.get("max_removals") is not None:
        job["max-removals"] = p["max_removals"]
    cfg = {"jobs": {p["name"]: job}}
    if p.get("state_dir"):
        cfg["state-dir"] = p["state_dir"]
    return cfg


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sources=dict(type="list", elements="str", required=True),
            targets=dict(type="list", elements="raw", required=True),
            mode=dict(type="str", default="add", choices=["add", "prune", "mirror"]),
            purposes=dict(type="list", elements="str", choices=["server-auth", "client-auth", "email", "code-signing"]),
            origin=dict(type="str", choices=["local", "public", "all"]),
            exclude=dict(type="list", elements="str"),
            only=dict(type="list", elements="str"),
            include_expired=dict(type="bool", default=False),
            include_non_ca=dict(type="bool", default=False),
            max_removals=dict(type="int"),
            password_file=dict(type="path"),
            password=dict(type="str", no_log=True),
            name=dict(type="str", default="ansible"),
            binary=dict(type="path", default="rootsync"),
            state_dir=dict(type="path"),
        ),
        mutually_exclusive=[("password_file", "password")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        cfg = job_config(p)
    except ValueError as e:
        module.fail_json(msg=str(e))

    args = ["run", "--output", "json", "--job", p["name"]] + rs.password_args(p)
    if module.check_mode:
        args.append("--dry-run")

    specs = [t if isinstance(t, str) else t.get("store") for t in p["targets"]]
    before = rs.entries_before(module, specs) if module._diff else []

    with rs.TempConfig(cfg) as path:
        rc, doc, err = rs.run(module, args[:1] + ["--config", path] + args[1:],
                              password=p.get("password"), ok=(rs.EXIT_OK, rs.EXIT_DRIFT))

    jobs = (doc or {}).get("jobs") or []
    job = jobs[0] if jobs else {}
    plan = job.get("plan") or {}
    result = dict(changed=bool(plan.get("changed")), plan=plan, warnings_rootsync=rs.plan_warnings(module, plan))
    if module._diff:
        result["diff"] = rs.plan_diffs(plan, before, specs)
    if not job.get("ok", True):
        msg, hint = rs.error_of(err)
        result.update(msg=job.get("error") or msg, rc=rc)
        if hint:
            result["hint"] = hint
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
