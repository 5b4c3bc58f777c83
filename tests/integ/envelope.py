"""The Cloudflare v4 failure envelope as xcap's API tests check it.

Imported by test_bad_input.sh's judge; run by lib_api.sh's envelope_problems:
    envelope.py FILE [CODE [POINTER]]
prints what is wrong with the failure envelope in FILE ('; '-separated), or
nothing when it is right.
"""
import json
import sys


def failure_problems(d):
    """The problems of a parsed failure body d: success false, result null,
    errors a non-empty array of objects with an integer code >= 1000 and a
    string message, messages an array. [] when it is right."""
    if not isinstance(d, dict):
        return ["the body is not a JSON object"]
    p = []
    if d.get("success") is not False:
        p.append("success is not false")
    if "result" not in d or d["result"] is not None:
        p.append("result is not null")
    errs = d.get("errors")
    if not isinstance(errs, list) or not errs:
        p.append("errors is empty or not an array")
        errs = []
    for i, x in enumerate(errs):
        if not isinstance(x, dict):
            p.append("errors[%d] is not an object" % i)
            continue
        c = x.get("code")
        if not (isinstance(c, int) and not isinstance(c, bool) and c >= 1000):
            p.append("errors[%d].code is not an integer >= 1000" % i)
        if not isinstance(x.get("message"), str):
            p.append("errors[%d].message is not a string" % i)
    if not isinstance(d.get("messages"), list):
        p.append("messages is not an array")
    return p


def first_error(d):
    """The first error object of a parsed body, or None."""
    errs = d.get("errors") if isinstance(d, dict) else None
    return errs[0] if isinstance(errs, list) and errs and isinstance(errs[0], dict) else None


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return None


if __name__ == "__main__":
    path, want_code, want_ptr = (sys.argv[1:] + ["", ""])[:3]
    d = load(path)
    p = failure_problems(d)
    first = first_error(d) or {}
    if want_code and str(first.get("code")) != want_code:
        p.append("errors[0].code: expected %s, got %s" % (want_code, first.get("code")))
    if want_ptr:
        src = first.get("source")
        got = src.get("pointer") if isinstance(src, dict) else None
        if got != want_ptr:
            p.append("errors[0].source.pointer: expected %s, got %s" % (want_ptr, got))
    print("; ".join(p))
