"""Drives the admin fleet page in headless Chromium while a device changes state.

Opens the page link, reads the numbers the server rendered, waits for the live stream, stops one
device through the tenant API, and waits for the page to show it stopped — without a reload.
Prints one JSON line; exits non-zero with the reason otherwise.

    python3 fleet_page.py --page URL --tenant ID --stop URL --host HOST --token TOKEN
"""

import argparse
import json
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def cell(driver, name):
    # One script, so the stream cannot swap the element out between finding and reading it.
    return driver.execute_script(
        "var found = document.querySelector(arguments[0]); return found ? found.textContent : null;",
        f'[data-cell="{name}"]')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--page", required=True, help="the page_url POST /admin/page/links returned")
    parser.add_argument("--tenant", required=True, help="the tenant whose device is stopped")
    parser.add_argument("--stop", required=True, help="the device's POST /devices/{id}/stop URL")
    parser.add_argument("--host", required=True, help="the tenant's host, for the stop request")
    parser.add_argument("--token", required=True, help="the tenant's token, for the stop request")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    names = {state: f"tenant:{args.tenant}:{state}" for state in ("online", "paired", "stopped", "total")}
    try:
        driver.get(args.page)
        before = {state: cell(driver, name) for state, name in names.items()}
        before["instances"] = cell(driver, "instances:count")
        before["pairings"] = cell(driver, "pairings:count")
        before["disconnects"] = cell(driver, "disconnects:total")
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "fleet").get_attribute("data-live") == "live")
        # Set on this document: a reload would lose it.
        driver.execute_script("window.stillThisPage = true;")

        request = urllib.request.Request(
            args.stop, data=b"", method="POST",
            headers={"Host": args.host, "Authorization": f"Bearer {args.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            stopped = json.load(response)

        WebDriverWait(driver, 30).until(
            lambda d: cell(d, names["stopped"]) != before["stopped"] and cell(d, names["online"]) != before["online"])
        after = {state: cell(driver, name) for state, name in names.items()}
        after["disconnects"] = cell(driver, "disconnects:total")
        result = {
            "before": before, "after": after, "stop": stopped.get("desired_state"),
            "reloaded": not driver.execute_script("return window.stillThisPage === true;"),
            "updates": driver.find_element(By.ID, "fleet").get_attribute("data-updates"),
        }
        print(json.dumps(result))
        if result["reloaded"]:
            sys.exit("the page reloaded instead of following its stream")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
