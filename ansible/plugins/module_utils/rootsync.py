# -*- coding: utf-8 -*-
# Copyright (C) 2026 the rootsync authors
"""Running the rootsync binary from a module: its JSON documents, its errors
and hints, and readable before/after texts for diff mode.

The modules never see a store password: they pass the paths of password
files, or hand a password to rootsync in an environment variable of its own
process (never on a command line).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import tempfile

# Exit statuses of rootsync (its documented contract).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3
EXIT_BUSY = 5

# The environment variable that carries a password given as a module option.
PASSWORD_ENV = "ROOTSYNC_ANSIBLE_PASSWORD"


def binary(module):
    """The rootsync binary: the module's `binary` option, else PATH."""
    path = module.params.get("binary") or "rootsync"
    if os.path.isabs(path):
        return path
    found = module.get_bin_path(path, required=False, opt_dirs=["/usr/local/bin", "/usr/bin"])
    if not found:
        module.fail_json(
            msg="rootsync is not installed on this host (no %r in PATH)" % path,
            hint="install it first, e.g. with the rootsync.trust.install role",
        )
    return found


def error_of(stderr):
    """Splits rootsync's stderr into its message and its hint lines."""
    msgs, hints = [], []
    for line in (stderr or "").splitlines():
        if line.startswith("rootsync: "):
            msgs.append(line[len("rootsync: "):])
        elif line.startswith("hint: "):
            hints.append(line[len("hint: "):])
        elif line.strip():
            msgs.append(line)
    return "\n".join(msgs) or "rootsync failed", "\n".join(hints)


def run(module, args, password=None, ok=(EXIT_OK,)):
    """Runs rootsync with args (no shell), returns (rc, document, stderr).

    A status outside ok fails the module with rootsync's message and hint.
    """
    env = None
    if password is not None:
        env = {PASSWORD_ENV: password}
    cmd = [binary(module)] + list(args)
    rc, out, err = module.run_command(cmd, environ_update=env, check_rc=False)
    doc = None
    if out.strip():
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
    if rc not in ok:
        msg, hint = error_of(err)
        result = dict(msg=msg, rc=rc, stderr=err)
        if hint:
            result["hint"] = hint
        if doc is not None:
            result["rootsync"] = doc
        module.fail_json(**result)
    return rc, doc, err


class TempConfig(object):
    """A configuration file of rootsync's in a private temporary folder,
    removed on exit. YAML reads JSON, so the file is written as JSON."""

    def __init__(self, config):
        self.config = config
        self.dir = None
        self.path = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="rootsync-ansible-")
        os.chmod(self.dir, 0o700)
        self.path = os.path.join(self.dir, "config.yaml")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.config, f, indent=2, sort_keys=True)
            f.write("\n")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def entry_line(entry):
    """One line for an entry of a `rootsync list -o json` document."""
    fp = entry.get("fingerprint", "")[:16]
    trust = entry.get("trust")
    if isinstance(trust, dict):
        trust = ",".join("%s=%s" % (k, trust[k]) for k in sorted(trust))
    subject = entry.get("subject", "")
    return "%s  %s  %s" % (fp, trust or "", subject)


def list_entries(doc):
    """The entries of a `rootsync list -o json` document (one store)."""
    if not isinstance(doc, dict):
        return []
    if isinstance(doc.get("stores"), list):
        entries = []
        for s in doc["stores"]:
            entries.extend(s.get("entries") or s.get("certificates") or [])
        return entries
    return doc.get("entries") or doc.get("certificates") or []


def change_line(change):
    """One line for a change of a plan."""
    cert = change.get("certificate") or change
    fp = (cert.get("fingerprint") or change.get("fingerprint") or "")[:16]
    subject = cert.get("subject") or change.get("subject") or ""
    return "%s  %s" % (fp, subject)


def target_diff(target, before_entries):
    """The before/after texts of one target of a plan, for diff mode."""
    before = sorted(entry_line(e) for e in before_entries)
    after = list(before)
    by_fp = dict((l[:16], l) for l in before)
    for c in target.get("changes") or []:
        action = c.get("action")
        line = change_line(c)
        fp = line[:16]
        if action == "add":
            after.append(line + "  (added)")
        elif action == "trust" and c.get("trust") and set(c["trust"].values()) == {"distrusted"}:
            if by_fp.get(fp) in after:
                after.remove(by_fp[fp])
            after.append(line + "  (distrusted)")
        elif action == "remove":
            if by_fp.get(fp) in after:
                after.remove(by_fp[fp])
        else:
            if by_fp.get(fp) in after:
                after.remove(by_fp[fp])
            after.append(line + "  (trust changed)")
    return dict(
        before_header=target.get("store", ""),
        after_header=target.get("store", ""),
        before="\n".join(before) + ("\n" if before else ""),
        after="\n".join(sorted(after)) + ("\n" if after else ""),
    )


def password_args(params):
    """The rootsync flags that say where the stores' password is: a file on
    the host, or the module's no_log password in rootsync's environment."""
    if params.get("password_file"):
        return ["--password-file", params["password_file"]]
    if params.get("password") is not None:
        return ["--password-env", PASSWORD_ENV]
    return []


def entries_before(module, specs):
    """What each store holds now, for diff mode (a store that cannot be read
    counts as empty); reading changes nothing."""
    p = module.params
    out = []
    for spec in specs:
        rc, doc, _ = run(module, ["list", "--output", "json", spec] + password_args(p),
                         password=p.get("password"), ok=(EXIT_OK, EXIT_ERROR))
        out.append(list_entries(doc) if rc == EXIT_OK else [])
    return out


def plan_warnings(module, plan):
    """rootsync's warnings of a plan (of the sources and of each target, the
    latter with its store), each also given to Ansible as a warning."""
    warnings = list(plan.get("warnings") or [])
    for t in plan.get("targets") or []:
        for w in t.get("warnings") or []:
            w = dict(w)
            w["store"] = t.get("store")
            warnings.append(w)
    for w in warnings:
        module.warn("%s: %s%s" % (w.get("code", "warning"), w.get("message", ""),
                                  " (%s)" % w["store"] if w.get("store") else ""))
    return warnings


def plan_diffs(plan, before, specs):
    """The before/after texts of the targets that change, matching each plan
    target to what was listed by its spec, else by position."""
    targets = plan.get("targets") or []
    by_spec = dict(zip(specs, before))
    diffs = []
    for i, t in enumerate(targets):
        if not t.get("changes"):
            continue
        entries = by_spec.get(t.get("store"))
        if entries is None and len(before) == len(targets):
            entries = before[i]
        diffs.append(target_diff(t, entries or []))
    return diffs
