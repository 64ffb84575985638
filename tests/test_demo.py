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
import torch
from PIL import Image

from colorizer.colorize import colorize_rgb
from colorizer.serving import demo

from .conftest import child_env, smooth_face
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
    env = child_env(GRADIO_ANALYTICS_ENABLED="False")
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


@pytest.fixture
def driver(tools):
    """Headless chromium through its driver, quit after the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = tools
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1280,1700"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def test_a_photo_uploaded_in_a_browser_comes_back_colorized(driver, app_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "p.png"
    Image.fromarray(smooth_face(np.random.default_rng(0), 64)[:40, :60]).save(photo)
    photo = Path(os.environ.get("COLORIZER_DEMO_PHOTO", photo))    # (docs/demo.png: a face)
    W, H = Image.open(photo).size
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
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#before-after img"))
    wait.until(lambda d: any("colorized.zip" in (a.get_attribute("href") or "")
                             for a in d.find_elements(By.CSS_SELECTOR, "#downloads a")))
    if os.environ.get("COLORIZER_DEMO_SCREENSHOT"):          # docs/demo.png is made so
        wait.until(lambda d: d.execute_script(
            "const i = document.querySelector('#result img');"
            "return i && i.complete && i.naturalWidth > 0"))
        time.sleep(2)
        driver.save_screenshot(os.environ["COLORIZER_DEMO_SCREENSHOT"])
    strip = np.asarray(Image.open(io.BytesIO(urllib.request.urlopen(src, timeout=30).read()))
                       .convert("RGB")).astype(int)
    assert strip.shape == (H, 3 * W, 3)              # grayscale | colorized | original
    colorized = strip[:, W:2 * W]
    assert np.ptp(colorized[..., 0] - colorized[..., 2]) > 10     # not gray


def colorize_an_example(driver, app_url):
    """Open the page, click the first test face and Colorize; the page's WebDriverWait."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(app_url)
    wait = WebDriverWait(driver, 120)
    example = wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#examples button, #examples tr.tr-body, #examples .gallery-item"))
    example[0].click()
    wait.until(lambda d: ".jpg" in d.find_element(By.ID, "photos").text)
    driver.find_element(By.CSS_SELECTOR, "#go").click()
    return wait


def test_the_strips_open_without_an_empty_band_and_temperature_shows_for_classify_only(
        driver, app_url):
    from selenium.webdriver.common.by import By

    wait = colorize_an_example(driver, app_url)
    wait.until(lambda d: d.execute_script(
        "const i = document.querySelector('#result img');"
        "return i && i.complete && i.naturalWidth > 0"))
    gap = driver.execute_script(
        "const i = document.querySelector('#result img').getBoundingClientRect();"
        "const t = document.querySelector('#result .thumbnail-item').getBoundingClientRect();"
        "return [i.top - t.top, t.bottom - i.bottom]")
    assert max(gap) < 40                 # the strip fills its tile: no band above or below
    assert not driver.find_elements(By.CSS_SELECTOR, "#temperature input")   # a sigmoid head


def open_hints_tab(driver, app_url):
    """The page's colour-hints tab, open; its WebDriverWait."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(app_url)
    wait = WebDriverWait(driver, 120)
    tab = wait.until(lambda d: [b for b in d.find_elements(
        By.XPATH, "//button[contains(., 'colour hints')]") if b.is_displayed()])
    tab[0].click()
    return wait


def click_picture(driver, css, x, y, width=None):
    """A click on the picture shown in `css` at pixel (x, y) of a photo `width` px wide (default:
    the picture's own), wherever and however large the page drew it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    img = driver.find_element(By.CSS_SELECTOR, css)
    w, h = driver.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img)
    zoom = w / (width or w)
    drawn = driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                  "return [r.width, r.height]", img)
    scale = min(drawn[0] / w, drawn[1] / h, 1)                 # as Gradio maps a click
    ActionChains(driver).move_to_element_with_offset(
        img, round(((x + 0.5) * zoom - w / 2) * scale),
        round(((y + 0.5) * zoom - h / 2) * scale)).click().perform()


def picture(driver, css, width=None):
    """The picture shown in `css`, as a photo `width` px wide (default: its own size)."""
    from selenium.webdriver.common.by import By

    src = driver.find_element(By.CSS_SELECTOR, css).get_attribute("src")
    image = Image.open(io.BytesIO(urllib.request.urlopen(src, timeout=30).read())).convert("RGB")
    if width:
        image = image.resize((width, round(image.height * width / image.width)), Image.NEAREST)
    return np.asarray(image)


def test_a_blue_point_in_the_browser_turns_its_region_blue_and_leaves_the_face(
        driver, app_url, tmp_path):
    from selenium.webdriver.common.by import By

    from colorizer.data import rgb_to_lab

    wait = open_hints_tab(driver, app_url)
    Image.new("RGB", (40, 40), "#2040d0").save(tmp_path / "blue.png")     # a reference photo
    driver.find_element(By.CSS_SELECTOR, "#hint-reference input[type=file]").send_keys(
        str(tmp_path / "blue.png"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hint-reference img"))
    click_picture(driver, "#hint-reference img", 20, 20)                 # takes its colour
    face = ROOT / "face_images" / "image00261.jpg"            # a test face under a dark cap
    driver.find_element(By.CSS_SELECTOR, "#hint-photo input[type=file]").send_keys(str(face))
    wait.until(lambda d: "points: 0" in d.find_element(By.ID, "hint-timing").text)
    before = picture(driver, "#hint-result img", 128)
    click_picture(driver, "#hint-result img", 64, 10, 128)                # on the cap
    wait.until(lambda d: "points: 1" in d.find_element(By.ID, "hint-timing").text)
    after = picture(driver, "#hint-result img", 128)
    assert "(64, 10) #2040d0" in driver.find_element(By.ID, "hint-points").text
    cap, skin = (slice(7, 14), slice(70, 80)), (slice(38, 46), slice(60, 68))   # 30 px below
    ab = [rgb_to_lab(im)[1:] for im in (before, after)]
    bluer = float(ab[0][1][cap].mean() - ab[1][1][cap].mean())                    # b* falls
    moved = float(np.sqrt(((ab[1][:, skin[0], skin[1]] - ab[0][:, skin[0], skin[1]]) ** 2)
                          .sum(0)).mean())
    assert bluer > 5 and moved < 2
    assert (after[10, 64] != before[10, 64]).any()            # the point is drawn where it is
    # a small photo is drawn as large as its box: a click 2 px inside its left edge counts
    drawn = driver.find_element(By.CSS_SELECTOR, "#hint-result img").rect
    assert drawn["height"] > 300
    click_picture(driver, "#hint-result img", 2, 100, 128)
    wait.until(lambda d: "points: 2" in d.find_element(By.ID, "hint-timing").text)
    assert "(2, 100) #2040d0" in driver.find_element(By.ID, "hint-points").text


def test_a_file_that_is_no_image_says_so_in_the_hints_tab(driver, app_url, tmp_path):
    from selenium.webdriver.common.by import By

    wait = open_hints_tab(driver, app_url)
    (tmp_path / "notes.jpg").write_text("not a photo")
    driver.find_element(By.CSS_SELECTOR, "#hint-photo input[type=file]").send_keys(
        str(tmp_path / "notes.jpg"))
    wait.until(lambda d: "notes.jpg: not an image this demo can read"
               in d.find_element(By.ID, "hint-timing").text)


def test_an_example_face_is_one_click_away(driver, app_url):
    from selenium.webdriver.common.by import By

    wait = colorize_an_example(driver, app_url)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#before-after img")) >= 1)
    links = wait.until(lambda d: [a.get_attribute("href") or "" for a in
                                  d.find_elements(By.CSS_SELECTOR, "#downloads a")] or None)
    assert any(link.endswith(".colorized.png") for link in links)


def test_a_visitor_cannot_name_a_model_the_server_was_not_given(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError, ValidationError

    Image.fromarray(smooth_face(np.random.default_rng(7), 64)).save(tmp_path / "f.png")
    client = Client(app_url, verbose=False, download_files=str(tmp_path / "dl"))
    for name in ("/etc/passwd", "../colorizer/weights/model.safetensors"):
        with pytest.raises((AppError, ValidationError, ValueError)):     # refused, not loaded
            client.predict([handle_file(str(tmp_path / "f.png"))], name, 0.38, 1.0,
                           api_name="/colorize")
    served = client.predict([handle_file(str(tmp_path / "f.png"))], "shipped colorizer", 0.38,
                            1.0, api_name="/colorize")
    assert served[1]                                             # the good name: colorized


def test_the_demo_says_how_to_install_gradio_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)              # import gradio fails
    with pytest.raises(demo.ColorizerError, match=r'pip install -e "\.\[demo\]"'):
        demo.gradio()


@pytest.fixture(scope="module")
def shipped():
    return demo.load_models()[demo.SHIPPED_LABEL]


def test_uploads_are_colorized_and_bad_files_captioned_by_their_own_name(tmp_path, shipped):
    Image.fromarray(smooth_face(np.random.default_rng(1), 64)[:30, :50]).save(tmp_path / "a.png")
    (tmp_path / "bad.jpg").write_bytes(b"no image")
    strips, files = demo.colorize_uploads([tmp_path / "a.png", tmp_path / "bad.jpg"], shipped,
                                          out_dir=tmp_path / "o")
    assert [c for _, c in strips] == ["a.png: grayscale | colorized | original",
                                      "bad.jpg: not an image this demo can read"]
    assert Image.open(files[0]).size == (50, 30) and strips[0][0].size == (150, 30)
    assert str(tmp_path) not in " ".join(c for _, c in strips)    # no server path


def test_two_uploads_of_one_stem_give_two_files(tmp_path, shipped):
    rng = np.random.default_rng(2)
    Image.fromarray(smooth_face(rng, 64)[:30, :50]).save(tmp_path / "a.jpg")
    Image.fromarray(smooth_face(rng, 64)[:20, :40]).save(tmp_path / "a.png")
    (tmp_path / "again").mkdir()
    Image.fromarray(smooth_face(rng, 64)[:10, :10]).save(tmp_path / "again" / "a.png")
    _, files = demo.colorize_uploads([tmp_path / "a.jpg", tmp_path / "a.png",
                                      tmp_path / "again" / "a.png"], shipped,
                                     out_dir=tmp_path / "o")
    assert [Path(f).name for f in files] == ["a.jpg.colorized.png", "a.png.colorized.png",
                                             "a.png-2.colorized.png"]
    assert [Image.open(f).size for f in files] == [(50, 30), (40, 20), (10, 10)]


def test_limits_refuse_with_a_caption(tmp_path, shipped):
    from benchmarks.common import one_colour_png

    one_colour_png(tmp_path / "big.png", 300)
    Image.fromarray(smooth_face(np.random.default_rng(3), 64)[:20, :20]).save(tmp_path / "s.png")
    limits = demo.DemoLimits(max_file_mb=1, max_pixels=200 * 200, max_files=2)
    strips, files = demo.colorize_uploads(
        [tmp_path / "big.png", tmp_path / "s.png", tmp_path / "s.png"], shipped,
        out_dir=tmp_path / "o", limits=limits)
    captions = [c for _, c in strips]
    assert captions[0] == "big.png: 0 MP is over the demo's limit of 0.04 MP an image"
    assert captions[2] == "s.png: not colorized (at most 2 photos a request)"
    assert len(files) == 1


def test_two_callers_at_two_temperatures_each_get_their_own(tmp_path):
    """The classify temperature belongs to the request: callers in threads never see another's
    (on the shared model it was set on, 6 of 12 outputs had the other caller's)."""
    import threading

    from colorizer import Config
    from colorizer.models import build_model

    torch.manual_seed(0)
    model = build_model(Config(head="classify", widths=(4, 8, 8, 8, 8, 8))).eval()
    Image.fromarray(smooth_face(np.random.default_rng(4), 64)).save(tmp_path / "f.png")
    alone = {t: Image.open(demo.colorize_uploads([tmp_path / "f.png"], model, t,
                                                 tmp_path / f"ref{t}")[1][0]).tobytes()
             for t in (0.05, 1.0)}
    assert alone[0.05] != alone[1.0]
    got, errors = {0.05: [], 1.0: []}, []

    def caller(t):
        try:
            for i in range(6):
                out = demo.colorize_uploads([tmp_path / "f.png"], model, t,
                                            tmp_path / f"{t}-{i}")[1][0]
                got[t].append(Image.open(out).tobytes())
        except Exception as e:          # (a failure in a thread must fail the test)
            errors.append(e)

    threads = [threading.Thread(target=caller, args=(t,)) for t in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(out == alone[t] for t in got for out in got[t])
    assert model.temperature == Config().temperature             # the shared model untouched


def test_request_folders_are_private_and_swept(tmp_path):
    import stat

    folders = demo.RequestFolders(keep_s=60)
    first = folders.new()
    assert stat.S_IMODE(folders.root.stat().st_mode) == 0o700
    (first / "x.png").write_bytes(b"x")
    folders.sweep(now=time.time() + 30)
    assert first.exists()
    folders.sweep(now=time.time() + 120)
    assert not first.exists()


def test_models_are_chosen_by_name_from_the_command_line(tmp_path):
    import shutil as sh

    from colorizer.serving.pretrained import shipped_weights

    run_dir = tmp_path / "my-run"
    run_dir.mkdir()
    sh.copy(shipped_weights(), run_dir / "model.safetensors")
    models = demo.load_models([run_dir / "model.safetensors"])
    assert list(models) == [demo.SHIPPED_LABEL, "1: my-run"]
    assert not any(str(tmp_path) in name for name in models)


@pytest.mark.parametrize("argv, says", [
    (["--share"], "--share opens a public link anyone can use: give --auth USER:PASSWORD"),
    (["--share", "--auth", "nopassword"], "--auth takes USER:PASSWORD"),
])
def test_a_public_link_needs_a_password(capsys, argv, says):
    pytest.importorskip("gradio")
    from colorizer.cli import main

    assert main(["demo", *argv]) == 2
    assert says in capsys.readouterr().err


def test_listening_beyond_this_machine_is_said_aloud(monkeypatch, capsys):
    launched = {}
    monkeypatch.setattr(demo, "build_app", lambda models, limits: _FakeApp(launched))
    monkeypatch.setattr(demo, "load_models", lambda checkpoints: {})
    demo.serve(host="0.0.0.0")
    assert "warning: the demo listens on 0.0.0.0" in capsys.readouterr().err
    assert launched["server_name"] == "0.0.0.0" and launched["max_file_size"] == "25mb"
    assert launched["queue"] == {"default_concurrency_limit": 1, "max_size": 32}
    demo.serve()
    assert capsys.readouterr().err == "" and launched["server_name"] == "127.0.0.1"


class _FakeApp:
    def __init__(self, launched):
        self.launched = launched

    def queue(self, **kw):
        self.launched["queue"] = kw

    def launch(self, **kw):
        self.launched.update(kw)


def test_the_main_install_pulls_neither_gradio_nor_onnx():
    import tomllib

    main_install = (ROOT / "requirements.txt").read_text().lower()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = main_install + " ".join(project["dependencies"]).lower()
    for extra in ("gradio", "selenium", "onnx", "tensorboard"):
        assert extra not in listed, extra
    assert {"demo", "onnx", "track"} <= set(project["optional-dependencies"])


def test_before_after_pairs_and_one_zip_of_all(tmp_path, shipped):
    import zipfile

    rng = np.random.default_rng(6)
    for name in ("x.png", "y.png"):
        Image.fromarray(smooth_face(rng, 64)[:30, :40]).save(tmp_path / name)
    pairs = []
    _, files = demo.colorize_uploads([tmp_path / "x.png", tmp_path / "y.png"], shipped,
                                     out_dir=tmp_path / "o", saturation=1.5, pairs=pairs)
    gray, colorized = pairs[0]
    assert gray.shape == colorized.shape == (30, 40, 3) and (gray == gray[..., :1]).all()
    assert np.array_equal(colorized, np.asarray(Image.open(files[0])))
    with zipfile.ZipFile(demo.zip_of(files, tmp_path / "o")) as z:
        assert sorted(z.namelist()) == ["x.colorized.png", "y.colorized.png"]
    assert demo.zip_of([], tmp_path / "o") is None
    assert len(demo.examples()) == 3 and all(p.endswith(".jpg") for p in demo.examples())


def test_hint_points_are_added_removed_and_cleared_and_each_change_recolorizes(tmp_path):
    from colorizer import Config
    from colorizer.models import build_model

    Image.fromarray(smooth_face(np.random.default_rng(3), 64)[:40]).save(tmp_path / "f.png")
    st = demo.hint_photo(tmp_path / "f.png")
    assert st["L"].shape == (1, 1, 40, 64) and st["points"] == []
    st = demo.with_point(st, 10, 20, "rgba(208, 32, 32, 1)")
    st = demo.with_point(st, 50, 5, "#00f")
    st = demo.with_point(st, 64, 5, "#00f")                     # off the photo: not added
    assert demo.point_labels(st) == ["1: (10, 20) #d02020", "2: (50, 5) #0000ff"]
    torch.manual_seed(0)
    model = build_model(Config(widths=(4, 8, 8), stem="conv")).eval()
    with_points, ms = demo.recolorize(model, st)
    assert with_points.shape == (40, 64, 3) and ms > 0
    fewer = demo.without_points(st, ["1: (10, 20) #d02020"])
    assert demo.point_labels(fewer) == ["1: (50, 5) #0000ff"]
    none = demo.without_points(st, None)
    assert none["points"] == [] and not np.array_equal(demo.recolorize(model, none)[0],
                                                       with_points)
    assert demo.pixel_hex(np.array([[[255, 16, 0]]], np.uint8), 0, 0) == "#ff1000"
    with pytest.raises(demo.ColorizerError):
        demo.hex_colour("hsl(0, 10%, 20%)")


def test_a_large_photo_is_worked_on_as_a_preview_and_written_whole_with_its_points(tmp_path):
    from colorizer import pretrained

    Image.fromarray(smooth_face(np.random.default_rng(4), 64)).resize((1600, 1200)).save(
        tmp_path / "big.png")
    st = demo.hint_photo(tmp_path / "big.png")
    h, w = st["L"].shape[-2:]
    assert st["size"] == (1200, 1600) and h * w <= demo.PREVIEW_PIXELS and (h, w) == (866, 1154)
    st = demo.with_point(st, 100, 100, "#2040d0")
    model = pretrained("cpu")
    preview, _ = demo.recolorize(model, st)
    shown = demo.marked(preview, st["points"], demo.zoom_of(preview.shape))
    assert shown.shape == preview.shape and not np.array_equal(shown, preview)
    assert shown[100, 100].tolist() == [0x20, 0x40, 0xd0]      # the point, drawn in its colour
    small = demo.marked(np.zeros((128, 96, 3), np.uint8), [(5, 6, "#2040d0")], 8)
    assert small.shape == (1024, 768, 3) and small[6 * 8 + 4, 5 * 8 + 4].tolist() == [32, 64, 208]
    whole = np.asarray(Image.open(demo.full_size(model, st, tmp_path))).astype(int)
    assert whole.shape == (1200, 1600, 3)
    # the point lands where it was placed on the preview, at the full photo's scale: bluer there
    plain = colorize_rgb(model, np.asarray(Image.open(tmp_path / "big.png").convert("RGB")))
    y, x = round(100 * 1200 / h), round(100 * 1600 / w)
    blueness = [float((im[y - 5:y + 6, x - 5:x + 6, 2].astype(int)
                       - im[y - 5:y + 6, x - 5:x + 6, 0]).mean()) for im in (plain, whole)]
    assert blueness[1] > blueness[0] + 10


def test_a_file_that_is_no_image_is_one_line_in_the_hints_tab(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(demo.ColorizerError, match="^notes.jpg: not an image this demo can read$"):
        demo.hint_photo(tmp_path / "notes.jpg")
