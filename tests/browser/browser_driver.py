#!/usr/bin/python3
"""Drives Debian's headless chromium through chromium-driver for the
dashboard's browser test. The test (C++) sends one JSON command per line on
stdin and reads one JSON answer per line on stdout:

  {"cmd": "open", "url": U}                      -> {"ok": true}
  {"cmd": "wait", "js": EXPR, "timeout_ms": N}   -> {"ok": true, "value": V, "elapsed_ms": T}
                                                    or {"ok": false, "error": …, "value": last V}
  {"cmd": "eval", "js": EXPR}                    -> {"ok": true, "value": V}
  {"cmd": "screenshot", "path": P}               -> {"ok": true}   (the whole page)
  {"cmd": "logs"}                                -> {"ok": true, "value": [{"level", "message"}, …]}
  {"cmd": "quit"}                                -> {"ok": true}, then exits

`wait` polls EXPR (a JavaScript expression) in the page until it is truthy
or the timeout passes: the test waits for conditions, never for time.
Errors never end the driver: they come back as {"ok": false, "error": …}.
"""
import json
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1300", f"--user-data-dir={profile}", "--no-first-run",
                 "--disable-background-networking", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def evaluate(driver, expression):
    return driver.execute_script(f"return ({expression});")


def main():
    logs = []
    with tempfile.TemporaryDirectory(prefix="isens-chromium-") as profile:
        driver = start_browser(profile)
        try:
            print(json.dumps({"ok": True, "ready": True}), flush=True)
            for line in sys.stdin:
                if not line.strip():
                    continue
                request = json.loads(line)
                cmd = request.get("cmd")
                try:
                    if cmd == "open":
                        driver.get(request["url"])
                        answer = {"ok": True}
                    elif cmd == "wait":
                        started = time.monotonic()
                        deadline = started + request.get("timeout_ms", 10000) / 1000
                        value = None
                        answer = None
                        while True:
                            try:
                                value = evaluate(driver, request["js"])
                            except Exception as error:  # the page is reloading or the script threw
                                value = f"exception: {error}"
                            if value and not (isinstance(value, str) and value.startswith("exception: ")):
                                answer = {"ok": True, "value": value,
                                          "elapsed_ms": round((time.monotonic() - started) * 1000, 1)}
                                break
                            if time.monotonic() > deadline:
                                answer = {"ok": False, "error": "timed out", "value": value}
                                break
                            time.sleep(0.01)  # the polling interval of a condition wait
                    elif cmd == "eval":
                        answer = {"ok": True, "value": evaluate(driver, request["js"])}
                    elif cmd == "screenshot":
                        # The whole page, timeline included: the window grows to the page's height for the shot.
                        size = driver.get_window_size()
                        height = evaluate(driver, "document.documentElement.scrollHeight")
                        driver.set_window_size(size["width"], max(size["height"], height + 200))
                        answer = {"ok": driver.save_screenshot(request["path"])}
                        driver.set_window_size(size["width"], size["height"])
                    elif cmd == "logs":
                        logs.extend({"level": e["level"], "message": e["message"]} for e in driver.get_log("browser"))
                        answer = {"ok": True, "value": logs}
                    elif cmd == "quit":
                        print(json.dumps({"ok": True}), flush=True)
                        break
                    else:
                        answer = {"ok": False, "error": f"unknown command {cmd!r}"}
                except Exception as error:
                    answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
                print(json.dumps(answer), flush=True)
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
