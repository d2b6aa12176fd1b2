#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (C) 2026 the rootsync authors

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: list
short_description: What trust stores hold (rootsync list)
description:
  - Reads stores with the C(rootsync) binary on the host and returns their entries as
    C(rootsync list -o json) prints them. Changes nothing, in check mode too.
version_added: "0.1.0"
options:
  stores:
    description: Store specs, or mappings with C(store) (as the targets of C(rootsync.trust.sync)).
    type: list
    elements: raw
    required: true
  password_file:
    description: A file on the host whose first line is the stores' password.
    type: path
  binary:
    description: The rootsync binary on the host.
    type: path
    default: rootsync
author: the rootsync authors
"""

EXAMPLES = r"""
- rootsync.trust.list:
    stores: [pem:/etc/nginx/client-ca.pem, nss:/root/.pki/nssdb]
  register: held
"""

RETURN = r"""
stores:
  description: For each store spec, its entries (fingerprint, subject, trust per purpose, label, owned, ...).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rootsync.trust.plugins.module_utils import rootsync as rs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stores=dict(type="list", elements="raw", required=True),
            password_file=dict(type="path"),
            binary=dict(type="path", default="rootsync"),
        ),
        supports_check_mode=True,
    )
    held = {}
    for s in module.params["stores"]:
        spec = s.get("store") if isinstance(s, dict) else s
        args = ["list", "--output", "json", spec]
        if module.params.get("password_file"):
            args += ["--password-file", module.params["password_file"]]
        _, doc, _ = rs.run(module, args)
        held[spec] = rs.list_entries(doc)
    module.exit_json(changed=False, stores=held)


if __name__ == "__main__":
    main()
