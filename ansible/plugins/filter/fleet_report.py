# -*- coding: utf-8 -*-
# Copyright (C) 2026 the rootsync authors
"""Filters that turn the results of the fleet report playbook into one report:
JSON (rootsync.fleet-report/v1) and a Markdown table of hosts x local roots."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_report
short_description: Build the fleet drift report from the report playbook's results
description:
  - Reads, for each host, the registered results C(rootsync_report_plan) (a check-mode
    C(rootsync.trust.sync)) and C(rootsync_report_list) (C(rootsync.trust.list)), and returns
    one report with every local root (certificates that are not public, shipped roots) and its
    state on each host (trusted, distrusted or absent), and what a run would change per host.
positional: hosts
options:
  _input:
    description: hostvars.
    type: dict
    required: true
  hosts:
    description: The hosts of the report.
    type: list
    elements: str
    required: true
"""

STATE_ORDER = {"distrusted": 3, "trusted": 2, "unspecified": 1, "absent": 0}


def _state(entry):
    trust = entry.get("trust") or {}
    values = set(trust.values()) if isinstance(trust, dict) else set()
    if "distrusted" in values:
        return "distrusted"
    if "trusted" in values:
        return "trusted"
    return "unspecified"


def _cn(subject):
    for part in (subject or "").split(","):
        if part.startswith("CN="):
            return part[3:]
    return subject or ""


def fleet_report(hostvars, hosts):
    report = {"schema": "rootsync.fleet-report/v1", "hosts": {}, "roots": []}
    roots = {}
    for h in sorted(hosts):
        hv = hostvars.get(h, {})
        plan_res = hv.get("rootsync_report_plan") or {}
        list_res = hv.get("rootsync_report_list") or {}
        entry = {
            "failed": bool(plan_res.get("failed") or list_res.get("failed")),
            "stores": list_res.get("stores") or {},
            "plan": plan_res.get("plan") or {},
            "changes": [],
            "roots": {},
        }
        for key in ("msg", "hint"):
            v = plan_res.get(key) or list_res.get(key)
            if v and entry["failed"]:
                entry[key] = v
        for t in entry["plan"].get("targets") or []:
            for c in t.get("changes") or []:
                entry["changes"].append({"store": t.get("store"), "action": c.get("action"),
                                         "fingerprint": c.get("fingerprint"), "subject": c.get("subject")})
        for spec, entries in sorted(entry["stores"].items()):
            for e in entries:
                if e.get("origin") == "public":
                    continue
                fp = e.get("fingerprint")
                roots.setdefault(fp, {"fingerprint": fp, "subject": e.get("subject", "")})
                r = entry["roots"].setdefault(fp, {"subject": e.get("subject", ""), "state": "absent", "stores": {}})
                st = _state(e)
                r["stores"][spec] = st
                if STATE_ORDER[st] > STATE_ORDER[r["state"]]:
                    r["state"] = st
        report["hosts"][h] = entry
    report["roots"] = sorted(roots.values(), key=lambda r: (_cn(r["subject"]), r["fingerprint"]))
    for h, entry in report["hosts"].items():
        if entry["failed"] and not entry["stores"]:
            continue
        for r in report["roots"]:
            entry["roots"].setdefault(r["fingerprint"], {"subject": r["subject"], "state": "absent", "stores": {}})
    return report


def fleet_report_markdown(report):
    hosts = sorted(report.get("hosts", {}))
    lines = ["# rootsync fleet report", ""]
    lines.append("| root | fingerprint | " + " | ".join(hosts) + " |")
    lines.append("|---|---|" + "---|" * len(hosts))
    for r in report.get("roots", []):
        cells = []
        for h in hosts:
            entry = report["hosts"][h]
            hr = entry["roots"].get(r["fingerprint"])
            if hr is None:
                cells.append("failed" if entry["failed"] else "absent")
                continue
            detail = ", ".join("%s in %s" % (st, spec) for spec, st in sorted(hr["stores"].items()))
            cells.append(hr["state"] + (" (%s)" % detail if len(hr["stores"]) > 1 and len(set(hr["stores"].values())) > 1 else ""))
        lines.append("| %s | `%s` | %s |" % (_cn(r["subject"]), r["fingerprint"][:16], " | ".join(cells)))
    lines += ["", "## What a run would change", ""]
    for h in hosts:
        entry = report["hosts"][h]
        if entry["failed"]:
            msg = entry.get("msg", "failed")
            hint = entry.get("hint")
            lines.append("- **%s**: failed: %s%s" % (h, msg.replace("\n", " "), " (hint: %s)" % hint.replace("\n", " ") if hint else ""))
        elif not entry["changes"]:
            lines.append("- **%s**: nothing" % h)
        else:
            parts = ["%s %s (`%s`) in %s" % (c["action"], _cn(c["subject"]), (c["fingerprint"] or "")[:16], c["store"])
                     for c in entry["changes"]]
            lines.append("- **%s**: %s" % (h, "; ".join(parts)))
    return "\n".join(lines) + "\n"


class FilterModule(object):
    def filters(self):
        return {"fleet_report": fleet_report, "fleet_report_markdown": fleet_report_markdown}
