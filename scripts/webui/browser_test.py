#!/usr/bin/env python3
"""Browser test of `turbodiffusion webui` (docs/webui.md): headless Chromium, driven by selenium,
loads the page, types a prompt, presses Generate, waits for the video to play and the gallery to
list it, then checks the Chinese label switch and an error shown in the page.

  python3 scripts/webui/browser_test.py --binary .build/release/turbodiffusion [--screenshots DIR]

Run from the repository root (the server uses --model demo). Exits non-zero on any failure.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from live_server import start_server


def make_driver(width, height):
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", f"--window-size={width},{height}", "--lang=en-US"]:
        options.add_argument(arg)
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"]:
        if os.path.exists(candidate):
            options.binary_location = candidate
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok:", message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/release/turbodiffusion")
    parser.add_argument("--screenshots", help="write PNG screenshots of the page into this folder")
    args = parser.parse_args()
    output_dir = tempfile.mkdtemp(prefix="webui-browser-")
    proc, url = start_server(args.binary, output_dir)
    driver = make_driver(1360, 1000)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#model option[value=demo]"))
        check(driver.find_element(By.ID, "model").get_attribute("value") == "demo", "the demo model is preselected")
        unavailable = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#model option") if "not installed" in o.text]
        check(len(unavailable) == 2, f"models that are not installed say so: {unavailable}")

        # An error from the server is shown in the page, naming the field.
        driver.find_element(By.ID, "prompt").send_keys("A red circle moves left on a white background.")
        driver.find_element(By.ID, "num_frames").send_keys("8")
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
        check("num_frames" in driver.find_element(By.ID, "error").text, "a bad frame count is reported in the page")
        driver.find_element(By.ID, "num_frames").clear()

        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.execute_script(
            "const v = document.getElementById('video'); return !v.hidden && v.readyState >= 2 && v.currentTime > 0;"))
        check(True, "the finished video plays")
        check(driver.find_element(By.ID, "bar-fill").get_attribute("style").find("100%") >= 0, "the progress bar is full")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#gallery .tile")) == 1)
        name = driver.find_element(By.CSS_SELECTOR, "#gallery .tile .meta").text
        check(name.startswith("t2v_") and name.endswith(".mp4"), f"the gallery lists the video ({name})")
        check(os.path.exists(os.path.join(output_dir, name)), "the video is in the output folder")
        wait.until(lambda d: "succeeded" in d.find_element(By.ID, "logs").text)
        check(True, "the log panel shows the job")

        # A second video, so the gallery shows order; then the screenshots.
        driver.find_element(By.ID, "prompt").clear()
        driver.find_element(By.ID, "prompt").send_keys("A blue square moves up on a black background.")
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#gallery .tile")) == 2)
        names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#gallery .tile .meta")]
        listed = json.load(urllib.request.urlopen(url + "api/v1/outputs"))["outputs"]
        check(names == [o["name"] for o in listed], "the gallery is newest first, as the API lists it")
        wait.until(lambda d: d.execute_script(
            "const v = document.getElementById('video'); return v.readyState >= 2 && v.currentTime > 0.3;"))
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            driver.set_window_size(1360, 1780)
            time.sleep(1)
            driver.save_screenshot(os.path.join(args.screenshots, "webui-en.png"))
            driver.set_window_size(1360, 1000)

        driver.find_element(By.ID, "lang").click()
        check(driver.find_element(By.ID, "generate").text == "生成", "the language switch relabels the page")
        if args.screenshots:
            driver.save_screenshot(os.path.join(args.screenshots, "webui-zh.png"))
        driver.find_element(By.ID, "lang").click()

        # I2V: the image section, an upload with its preview.
        driver.find_element(By.CSS_SELECTOR, "input[name=task][value=i2v]").find_element(By.XPATH, "..").click()
        check(driver.find_element(By.ID, "i2v-box").is_displayed(), "image-to-video shows the image section")
        driver.find_element(By.ID, "image").send_keys(os.path.abspath("models/demo/sample_i2v.png"))
        wait.until(lambda d: "64×64" in d.find_element(By.ID, "drop-text").text)
        check(driver.find_element(By.ID, "preview").is_displayed(), "the uploaded image is previewed")
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#gallery .tile")) == 3)
        check(driver.find_element(By.CSS_SELECTOR, "#gallery .tile .meta").text.startswith("i2v_"), "the I2V video heads the gallery")

        driver.set_window_size(420, 900)
        if args.screenshots:
            driver.save_screenshot(os.path.join(args.screenshots, "webui-phone.png"))
        width = driver.execute_script("return document.documentElement.scrollWidth")
        check(width <= 420, f"no sideways scrolling on a phone-sized window ({width}px)")
    finally:
        driver.quit()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(output_dir, ignore_errors=True)
    print("browser test passed")


if __name__ == "__main__":
    main()
