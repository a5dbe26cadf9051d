"""How the e2e scripts that try many cases say how each went: an "ok  " or
"FAIL" line per case with its problems indented below, and the closing count
(the count is what meson shows). Not the checks themselves: each script's."""


def case(name, problems):
    """Prints the case's line and its problems; True when it failed."""
    print(f"{'ok  ' if not problems else 'FAIL'} {name}")
    for pr in problems:
        print(f"       {pr}")
    return bool(problems)


def tally(total, failures, what):
    """Prints "PASSED/TOTAL <what> behave"; returns the exit status (0 or 1)."""
    print(f"{total - failures}/{total} {what} behave")
    return 1 if failures else 0
