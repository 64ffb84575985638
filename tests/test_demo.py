"""The web demo, driven in a real headless browser (Debian's chromium through selenium)."""

import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer import demo

from .conftest import smooth_face
from .test_cli import ROOT

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _needs(what):
    """Skip with a reason, or, in CI (which installs them), fail."""
    if IN_CI:
        pytest.fail(f"CI installs the demo's test tools; missing: {what}")
    pytest.skip(f"the demo test needs {what}")


@pytest.fixture(scope="module")
def tools():
    missing = [m for m in ("gradio", "selenium") if importlib.util.find_spec(m) is None]
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if missing or not browser or not driver:
        _needs(", ".join(missing + ([] if browser else ["chromium"])
                         + ([] if driver else ["chromedriver"])))
    return browser, driver


@pytest.fixture(scope="module")
def app_url(tools):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "colorizer", "demo", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"the demo stopped: {proc.stdout.read()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the demo did not answer within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_a_photo_uploaded_in_a_browser_comes_back_colorized(tools, app_url, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = tools
    photo = tmp_path / "p.png"
    Image.fromarray(smooth_face(np.random.default_rng(0), 64)[:40, :60]).save(photo)
    photo = Path(os.environ.get("COLORIZER_DEMO_PHOTO", photo))    # (docs/demo.png: a face)
    W, H = Image.open(photo).size
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1280,1700"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(app_url)
        wait = WebDriverWait(driver, 120)
        upload = wait.until(seen.presence_of_element_located(
            (By.CSS_SELECTOR, "#photos input[type=file]")))
        upload.send_keys(str(photo))
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#downloads a, "
                                                     "#photos a, #photos .file-name")))
        driver.find_element(By.CSS_SELECTOR, "#go").click()
        image = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#result img")))
        src = image.get_attribute("src")
        if os.environ.get("COLORIZER_DEMO_SCREENSHOT"):          # docs/demo.png is made so
            wait.until(lambda d: d.execute_script(
                "const i = document.querySelector('#result img');"
                "return i && i.complete && i.naturalWidth > 0"))
            time.sleep(2)
            driver.save_screenshot(os.environ["COLORIZER_DEMO_SCREENSHOT"])
    finally:
        driver.quit()
    strip = np.asarray(Image.open(io.BytesIO(urllib.request.urlopen(src, timeout=30).read()))
                       .convert("RGB")).astype(int)
    assert strip.shape == (H, 3 * W, 3)              # grayscale | colorized | original
    colorized = strip[:, W:2 * W]
    assert np.ptp(colorized[..., 0] - colorized[..., 2]) > 10     # not gray


def test_the_demo_says_how_to_install_gradio_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)              # import gradio fails
    with pytest.raises(demo.ColorizerError, match=r'pip install -e "\.\[demo\]"'):
        demo.gradio()


def test_uploads_are_colorized_and_bad_files_captioned(tmp_path):
    Image.fromarray(smooth_face(np.random.default_rng(1), 64)[:30, :50]).save(tmp_path / "a.png")
    (tmp_path / "bad.jpg").write_bytes(b"no image")
    strips, files = demo.colorize_uploads([tmp_path / "a.png", tmp_path / "bad.jpg"],
                                          out_dir=tmp_path / "o")
    assert len(strips) == 2 and "cannot read image" in strips[0][1]
    assert Image.open(files[0]).size == (50, 30) and strips[1][0].size == (150, 30)


def test_the_main_install_pulls_neither_gradio_nor_onnx():
    import tomllib

    main_install = (ROOT / "requirements.txt").read_text().lower()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = main_install + " ".join(project["dependencies"]).lower()
    for extra in ("gradio", "selenium", "onnx"):
        assert extra not in listed, extra
    assert {"demo", "onnx"} <= set(project["optional-dependencies"])
