"""Drives the pairing page in headless Chromium during a simulated pairing.

Opens the page link, waits for the QR, screenshots it, decodes the screenshot with zbarimg, has
the simulated phone scan the decoded text through the simulator's control API, and waits for the
page to say it is paired. Prints one JSON line; exits non-zero with the reason otherwise.

    python3 pairing_page.py --page URL --map HOST --control URL --screenshot PATH
"""

import argparse
import json
import subprocess
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def page_state(driver):
    return driver.find_element(By.ID, "pairing").get_attribute("data-state")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--page", required=True, help="the page link POST /pair returned")
    parser.add_argument("--map", required=True, help="the tenant host, resolved to 127.0.0.1")
    parser.add_argument("--control", required=True, help="the simulator's control URL")
    parser.add_argument("--screenshot", required=True, help="where the QR screenshot goes")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=900,1100", f"--host-resolver-rules=MAP {args.map} 127.0.0.1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    try:
        driver.get(args.page)
        WebDriverWait(driver, 30).until(
            lambda d: page_state(d) == "showing" and d.find_element(By.ID, "qr").is_displayed())
        driver.find_element(By.ID, "qr").screenshot(args.screenshot)
        decoded = subprocess.run(["zbarimg", "--raw", "-q", args.screenshot],
                                 capture_output=True, text=True, check=False)
        qr = decoded.stdout.strip()
        if decoded.returncode != 0 or not qr:
            sys.exit(f"zbarimg could not read the QR in {args.screenshot}: {decoded.stderr.strip()}")

        request = urllib.request.Request(
            args.control + "/phone/scan", data=json.dumps({"qr": qr}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            scanned = json.load(response)

        WebDriverWait(driver, 30).until(lambda d: page_state(d) != "showing")
        state = page_state(driver)
        status = driver.find_element(By.ID, "status").text
        print(json.dumps({"qr": qr, "scan": scanned.get("status"), "state": state, "status": status}))
        if state != "paired":
            sys.exit(f"the page ended as {state}: {status}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
