"""The search form, used as a person would, in a headless Chromium (Debian's
chromium and chromium-driver, driven by selenium), on the full H.E.S.S. DL3
DR1: front page -> form -> Crab by name, 1 degree, 1 to 10 TeV, 2004 to
2005 -> the runs a TAP query with the same constraints finds; the first
row's preview loads; bad entries get their messages.

Screenshots of the front page, the filled form and the result page are
written to ``$HESS_DR_SCREENSHOTS`` (default ``<checkout>/var/screenshots``;
README's docs/form.png is a reduced copy of result.png).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import pyvo
from astropy.time import Time

from dachs_support import CHECKOUT

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is installed by"
                                " bin/bootstrap.sh")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: RA_OBJ, DEC_OBJ of the Crab runs (their EVENTS headers and the obs-index)
CRAB = (83.633333333333, 22.014444444444)
SCREENSHOTS = Path(os.environ.get("HESS_DR_SCREENSHOTS") or CHECKOUT / "var" / "screenshots")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    for program in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(program):
            pytest.fail(f"{program} is missing (bin/bootstrap.sh installs chromium and"
                        " chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium_profile")
    for argument in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                     "--window-size=1200,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=60):
    return WebDriverWait(driver, timeout).until(condition)


def fill(driver, values: dict) -> None:
    for name, value in values.items():
        field = driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)


def submit(driver) -> None:
    driver.find_element(By.ID, "genForm-action-submit").click()
    wait(driver, lambda d: "Matched:" in d.page_source
         or d.find_elements(By.CSS_SELECTOR, "div.errors"))


def result_rows(driver) -> list[dict]:
    heads = [th.text.split("\n")[0] for th in
             driver.find_elements(By.CSS_SELECTOR, "table.results thead th")]
    return [dict(zip(heads, (td.text for td in row.find_elements(By.TAG_NAME, "td"))))
            for row in driver.find_elements(By.CSS_SELECTOR, "table.results tbody tr")]


def test_front_page_form_results_as_tap(dr1_service, browser):
    browser.get(f"{dr1_service.url}/")
    assert "Services available here" in browser.page_source
    browser.save_screenshot(str(SCREENSHOTS / "front.png"))
    browser.find_element(By.LINK_TEXT, "Search gamma-ray event lists").click()
    wait(browser, lambda d: d.find_elements(By.ID, "genForm"))
    assert browser.current_url == f"{dr1_service.url}/hess_dr/q/web/form"
    fill(browser, {"pos": "Crab", "radius": "1", "emin": "1", "emax": "10",
                   "date_from": "2004", "date_to": "2005"})
    browser.save_screenshot(str(SCREENSHOTS / "form.png"))
    submit(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "div.errors")
    rows = result_rows(browser)

    # the same constraints in ADQL: pointed within 1 deg of the Crab, event
    # energies overlapping 1-10 TeV, overlapping 2004-01-01 to 2005-12-31 UTC
    start, stop = Time(["2004-01-01", "2006-01-01"], scale="utc").mjd
    tap = pyvo.dal.TAPService(dr1_service.tap_url).run_sync(
        "SELECT obs_id, target_name, livetime, zen_pnt, event_count, energy_min, energy_max"
        " FROM hess_dr.obs_index WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec),"
        f" CIRCLE('ICRS', {CRAB[0]}, {CRAB[1]}, 1))"
        f" AND energy_max >= 1e12 AND energy_min <= 1e13"
        f" AND t_max >= {start} AND t_min < {stop} ORDER BY obs_id").to_table()
    assert len(tap) > 0
    assert sorted(r["Run"] for r in rows) == list(tap["obs_id"])
    by_run = {r["Run"]: r for r in rows}
    for expected in tap:
        shown = by_run[expected["obs_id"]]
        assert shown["Target"] == expected["target_name"] == "Crab"
        assert shown["Live time"] == f"{expected['livetime']:.0f}"
        assert shown["Zenith"] == f"{expected['zen_pnt']:.1f}"
        assert shown["Events"] == str(expected["event_count"])
        lo, hi = shown["Energies"].split(" – ")
        assert float(lo) == pytest.approx(expected["energy_min"] / 1e12, rel=5e-3)
        assert float(hi) == pytest.approx(expected["energy_max"] / 1e12, rel=5e-3)
        assert (shown["File"], shown["DataLink"]) == ("file", "DataLink")
    # run 23523 (the regression suite's numbers)
    assert by_run["23523"]["Start (UTC)"] == "2004-12-04 22:07"
    assert by_run["23523"]["Energies"] == "0.244 – 101"

    # the first row's preview thumbnail loads (one preview at a time)
    first = browser.find_element(By.CSS_SELECTOR, "table.results tbody tr img.hessdr-preview")
    wait(browser, lambda d: first.get_attribute("data-loaded") == "1"
         and d.execute_script("return arguments[0].naturalWidth", first) > 0, timeout=180)
    assert browser.execute_script("return arguments[0].naturalHeight", first) > 100
    # and the others after it, none refused for good
    wait(browser, lambda d: d.execute_script(
        "return Array.prototype.every.call(document.querySelectorAll('img.hessdr-preview'),"
        " function (i) { return i.getAttribute('data-loaded') === '1'"
        " || i.className.indexOf('failed') >= 0; })"), timeout=300)
    assert not browser.find_elements(By.CSS_SELECTOR, "img.hessdr-preview.failed")
    # the links lead to the file and the DataLink document
    file_url = browser.find_element(By.CSS_SELECTOR, "a.hessdr-file").get_attribute("href")
    assert file_url.startswith(f"{dr1_service.url}/getproduct/")
    datalink = browser.find_element(By.CSS_SELECTOR, "a.hessdr-datalink").get_attribute("href")
    assert datalink.startswith(f"{dr1_service.url}/hess_dr/q/dl/dlmeta?ID=ivo%3A%2F%2F")
    browser.save_screenshot(str(SCREENSHOTS / "result.png"))


@pytest.mark.parametrize("values, field, message", [
    ({"pos": "Nowhere"}, "pos",
     "no published target is called 'Nowhere'; give coordinates"),
    ({"pos": "Off data"}, "pos", "'Off data' names 45 runs in different parts of the sky"),
    ({"pos": "Crab", "date_from": "2005-13-01"}, "date_from",
     "'2005-13-01' is not a date: month must be in 1..12"),
    ({"pos": "Crab", "emin": "10", "emax": "1"}, "emin",
     "the lowest energy (10 TeV) is above the highest (1 TeV)"),
    ({"pos": "83.6 95"}, "pos", "declination 95 is outside -90..90 degrees"),
    ({"emin": "ten"}, "emin", "Not a valid number"),
])
def test_a_bad_entry_gets_its_message(dr1_service, browser, values, field, message):
    browser.get(f"{dr1_service.url}/hess_dr/q/web/form")
    fill(browser, values)
    submit(browser)
    field_box = browser.find_element(By.ID, f"genForm-{field}-field")
    assert message in field_box.find_element(By.CSS_SELECTOR, "div.message").text
    assert "error" in field_box.get_attribute("class")
    assert "Matched:" not in browser.page_source
    assert "Traceback" not in browser.page_source
    if values == {"pos": "Nowhere"}:
        browser.save_screenshot(str(SCREENSHOTS / "bad-entry.png"))
