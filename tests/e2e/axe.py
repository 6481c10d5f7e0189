"""axe-core in the test browser: the engine as the axe-playwright-python package ships it."""

SEVERE = ("critical", "serious")


def severe_violations(page) -> list[dict]:
    """axe-core's critical and serious violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results.response["violations"]
        if violation.get("impact") in SEVERE
    ]


def page_width(page) -> tuple[int, int]:
    """(document width, viewport width): a page that scrolls sideways has the first larger."""
    return page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
