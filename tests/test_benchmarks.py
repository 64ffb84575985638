import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check
from benchmarks.quality import config
from benchmarks.time_to_quality import label
from colorizer import ARCHS, Config
from colorizer.config import preset

from .conftest import tiny_config


def test_configuration_names_with_settings():
    assert config("default") == Config()
    assert config("default-regressor", epochs=3, seed=2) == Config(model="regressor", epochs=3,
                                                                  seed=2)
    got = config("default+head=tanh+arch=1+epochs=3+lr=0.002+flip=false+stem=conv", epochs=9)
    assert got == Config(head="tanh", widths=ARCHS[1], epochs=3, lr=0.002, flip=False,
                         stem="conv")                   # a name's own epochs win over --epochs
    assert config("colorizer-sigmoid-2+schedule=wsd") == preset("study-short", head="sigmoid",
                                                                 widths=ARCHS[2], schedule="wsd")
    assert config("full-side+seed=1") == preset("full-side", seed=1)
    assert config("full-side").ab_stride == 1


def test_plot_labels_name_what_a_run_trained_with_against_a_preset_that_never_moves():
    assert label(preset("quarter-side", epochs=3, seed=2).to_dict()) == "--preset quarter-side"
    assert label(preset("quarter-side", head="classify", widths=ARCHS[1]).to_dict()) == (
        "--preset quarter-side --head classify --arch 1")
    older = preset("quarter-side", schedule="constant", lr=0.001)    # named by its settings
    assert label(older.to_dict()) == "--preset quarter-side --lr 0.001 --schedule constant"
    assert label(Config(stem="space_to_depth").to_dict()).startswith(
        "--preset quarter-side --stem space_to_depth")


def test_tta_names_a_decoding_not_a_training_setting():
    assert config("default+tta=flip") == Config()


def test_gpu_check_says_in_one_line_that_there_is_no_gpu_and_writes_nothing(
        capsys, monkeypatch, tmp_path):
    """A run that measured nothing writes nothing over a result."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--name", str(tmp_path / "g")]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "no CUDA device" in err
    assert out.startswith("gpu_check plan: 7 step(s), about")
    assert not list(tmp_path.iterdir())


def test_the_plan_fits_one_command_and_estimates_the_full_profiles_calls(capsys, tmp_path):
    assert sum(gpu_check.BY_NAME[s].limit_s for s in gpu_check.DEFAULT) <= 8 * 60
    assert gpu_check.BY_NAME["suite"].limit_s <= 10 * 60
    assert gpu_check.main(["--plan", "--device", "cpu", "--only", "suite", "--name",
                           str(tmp_path / "p")]) == 0
    assert "limit 540 s" in capsys.readouterr().out
    assert gpu_check.main(["--plan", "--device", "cpu", "--full", "--minutes", "9", "--name",
                           str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "call(s) of --full --minutes 9 (each resumes where the last stopped)" in out
    assert out.rstrip().splitlines()[-1].lstrip().startswith("full") and not list(
        tmp_path.iterdir())


def test_a_step_past_its_limit_is_killed_with_its_children(tmp_path):
    import subprocess

    check = gpu_check.Check("cpu", tmp_path, None, 1)
    check.step = gpu_check.Step("x", 1, 1)
    pid_file = tmp_path / "child"
    with pytest.raises(subprocess.TimeoutExpired):
        check.sh("sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait")
    pid = int(pid_file.read_text())
    for _ in range(50):                          # the killed child is reaped by init
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text(
                ).split()[2]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the step's child outlived its limit")


def test_each_step_is_written_the_moment_it_ends(tmp_path, monkeypatch):
    name = tmp_path / "check"
    seen = {}

    def second_step(self):
        seen.update(json.loads(name.with_suffix(".json").read_text())["steps"])
        return {}

    monkeypatch.setattr(gpu_check.Check, "train", lambda self: {"ab_mse": 1.0})
    monkeypatch.setattr(gpu_check.Check, "evaluate", second_step)
    assert gpu_check.main(["--device", "cpu", "--only", "train", "evaluate", "--name",
                           str(name), "--out", str(tmp_path / "runs")]) == 0
    assert seen["train"]["status"] == "ok" and seen["evaluate"]["status"] == "not run yet"


def test_children_keep_the_callers_pythonpath(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/carried/wheels")
    paths = gpu_check.child_env()["PYTHONPATH"].split(os.pathsep)
    assert paths == [str(gpu_check.ROOT), "/carried/wheels"]


def test_the_notebooks_device_line_is_found():
    from research import report
    from research import runs as study

    line = report.provenance(torch.device("cuda"), study.PROFILES["fast"])
    assert gpu_check.device_line(f"noise\n{line}\nmore") == line


@pytest.mark.slow
def test_gpu_check_runs_its_steps_on_the_cpu(tmp_path, real_data):
    """The check itself, on the CPU and a few images: train, a killed run resumed to the same
    figure, evaluate, colorize, torchrun under DDP; its table and JSON written."""
    name = tmp_path / "check"
    code = gpu_check.main(["--device", "cpu", "--limit", "30", "--out", str(tmp_path / "runs"),
                           "--name", str(name), "--skip", "notebook", "throughput"])
    steps = json.loads(name.with_suffix(".json").read_text())["steps"]
    assert code == 0, steps
    assert {k: v["status"] for k, v in steps.items()} == {
        "train": "ok", "resume": "ok", "evaluate": "ok", "colorize": "ok", "torchrun": "ok"}
    assert steps["resume"]["figures"]["same"] is True            # bit for bit on one CPU
    assert steps["colorize"]["figures"]["last_line"].startswith("8 written")
    assert steps["torchrun"]["figures"]["ddp"] is True
    assert steps["torchrun"]["figures"]["backend"] == "gloo"
    assert "| resume | ok |" in name.with_suffix(".md").read_text()


def test_the_notebook_as_a_script_drops_magics_and_sets_the_profile():
    script = gpu_check.notebook_as_script(gpu_check.ROOT / "main.ipynb", profile="full")
    assert not any(line.lstrip().startswith("%") for line in script.splitlines())
    assert "PROFILE = 'full'" in script
    compile(script, "main_cells.py", "exec")


def test_study_arms_are_named_by_their_options_against_a_fixed_reference():
    from benchmarks import study as bench

    cfg = Config(**bench.project(widths=ARCHS[1]))
    words = bench.options(cfg)                       # against the defaults of the commit
    assert "--widths 32,64,128,256,256,512" in words and "--holdout val" in words
    assert bench.options(cfg, Config(**bench.project())) == "--widths 32,64,128,256,256,512"


def test_the_equal_time_arm_gets_the_epochs_its_step_time_buys():
    from benchmarks import study as bench

    cfg = Config(**bench.project())
    fast = [{"seconds_per_epoch": 8.0, "config": {"epochs": 12}}] * 2
    slow = [{"seconds_per_epoch": 20.0, "config": {"epochs": 12}}] * 2
    label, stretched = bench.equal_time_arm("Architecture 2", cfg, fast, "Architecture 1", slow)
    assert label == "Architecture 2, equal time" and stretched.epochs == 30


def test_the_finalist_is_the_screen_arm_lowest_on_validation():
    from benchmarks import study as bench

    def arm(err):
        return {"runs": [{"val": {"ab_mse": err}}]}
    candidates = {"chosen": {}, "--lr 0.001": {"lr": 1e-3}, "--ab-stride 2": {"ab_stride": 2}}
    screened = {"arms": {"chosen, 28 epochs": arm(9.0), "--lr 0.001, 28 epochs": arm(9.5),
                         "--ab-stride 2, 26 epochs": arm(8.8)}}
    arms, pairs = bench.finalists(screened, "chosen", candidates)
    assert pairs == [("chosen", "--ab-stride 2")]
    assert arms["--ab-stride 2"] == {"ab_stride": 2}
    screened["arms"]["--lost-lever, 28 epochs"] = arm(7.0)     # its lever left the code since
    assert bench.finalists(screened, "chosen", candidates)[1] == [("chosen", "--ab-stride 2")]


def test_a_study_run_folder_is_named_by_what_it_trains_not_where_it_reads():
    from benchmarks import study as bench

    cfg = Config(**bench.project())
    assert bench.run_folder("k", cfg).startswith("k/colorizer-sigmoid-")
    assert bench.run_folder("k", replace(cfg, data="elsewhere", device="cpu")) == \
        bench.run_folder("k", cfg)
    assert bench.run_folder("k", Config(**bench.project(stem="space_to_depth"))) != \
        bench.run_folder("k", cfg)


def test_a_timed_question_gives_each_arm_the_epochs_its_quiet_epoch_buys(tmp_path, monkeypatch):
    from benchmarks import study as bench

    timed = []

    def probe(cfg, data, keep):
        timed.append((cfg.stem, cfg.batch_size, keep))
        return {64: 21.0, 128: 13.0}[cfg.batch_size] if cfg.stem != "conv" else 25.0

    monkeypatch.setattr(bench, "quiet_epoch_seconds", lambda configs, data, keep: {
        label: probe(cfg, data, keep) for label, cfg in configs.items()})
    lever, batch = "--stem space_to_depth", "--stem space_to_depth --batch-size 128 --lr 0.0028"
    arms, pairs, clock = bench.timed_arms(bench.QUESTIONS["time-5min"], None, str(tmp_path))
    assert arms == {"--stem conv, 12 epochs": {"stem": "conv", "epochs": 12},
                    f"{lever}, 14 epochs": {"stem": "space_to_depth", "epochs": 14},
                    f"{batch}, 23 epochs": {"stem": "space_to_depth", "batch_size": 128,
                                            "lr": 2.8e-3, "epochs": 23}}
    assert pairs == [("--stem conv, 12 epochs", f"{lever}, 14 epochs"),
                     ("--stem conv, 12 epochs", f"{batch}, 23 epochs")]
    assert clock == {"--stem conv, 12 epochs": 25.0, f"{lever}, 14 epochs": 21.0,
                     f"{batch}, 23 epochs": 13.0}
    assert [t[:2] for t in timed] == [("conv", 64), ("space_to_depth", 64),
                                      ("space_to_depth", 128)]
    assert bench.budget_epochs(10, 21.0) == 28 and bench.budget_epochs(5, 400) == 1


def test_ten_minutes_takes_the_lever_that_five_minutes_chose_on_validation():
    from benchmarks import study as bench

    def arm(err):
        return {"runs": [{"val": {"ab_mse": err}}, {"val": {"ab_mse": err + 0.2}}]}
    lever, batch = "--stem space_to_depth", "--stem space_to_depth --batch-size 128 --lr 0.0028"
    screened = {"arms": {"--stem conv, 12 epochs": arm(9.0), f"{lever}, 14 epochs": arm(9.4),
                         f"{batch}, 23 epochs": arm(8.7)}}
    arms, pairs = bench.finalists(screened, *bench.QUESTIONS["time-10min"].screen[1:])
    assert pairs == [("--stem conv", batch)]
    assert arms == {"--stem conv": {"stem": "conv"},
                    batch: {"stem": "space_to_depth", "batch_size": 128, "lr": 2.8e-3}}


def test_the_quiet_epoch_is_the_fastest_of_interleaved_probes_timed_once(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from benchmarks import study as bench

    fitted = []

    def fake_fit(cfg, **kw):
        fitted.append(cfg)
        slow = 9.0 if len(fitted) == 1 else 0.0        # a neighbour's load on the first probe
        return SimpleNamespace(history={"seconds": [30.0 + slow, {64: 20.5, 128: 12.0}[
            cfg.batch_size] + slow]})

    monkeypatch.setattr(bench, "fit", fake_fit)
    configs = {"a": Config(**bench.project(epochs=17, seed=2)),
               "b": Config(**bench.project(epochs=17, batch_size=128)),
               "a, twice the rate": Config(**bench.project(epochs=17, lr=4e-3))}  # a's work
    quiet = {"a": 20.5, "b": 12.0, "a, twice the rate": 20.5}
    assert bench.quiet_epoch_seconds(configs, None, tmp_path) == quiet
    assert bench.quiet_epoch_seconds(configs, None, tmp_path) == quiet
    assert [c.batch_size for c in fitted] == [64, 128, 128, 64]     # read back, not retrained
    assert {(c.holdout, c.epochs, c.seed) for c in fitted} == {("test", 2, 0)}


def test_the_shared_options_name_no_epochs_that_no_arm_trains():
    from benchmarks import study as bench

    base = bench.project()
    timed = {"a": Config(**{**base, "epochs": 20}), "b": Config(**{**base, "epochs": 41})}
    assert "--epochs" not in bench.options(bench.shared_settings(base, timed))
    assert bench.options(timed["a"], bench.shared_settings(base, timed)) == "--epochs 20"
    one_changes = {"a": Config(**base), "b": Config(**{**base, "epochs": 41})}
    assert "--epochs 12" in bench.options(bench.shared_settings(base, one_changes))


def test_a_lever_arm_times_the_bare_step_or_with_pipeline_the_whole_training_step(
        tiny_data, monkeypatch):
    from benchmarks import levers

    cfg = levers.arm_config("space_to_depth+bfloat16+batch_128", tiny_config())
    assert (cfg.stem, cfg.precision, cfg.batch_size) == ("space_to_depth", "bfloat16", 128)
    with pytest.raises(SystemExit):                 # one line from argparse, before any work
        levers.main(["--levers", "eager+turbo"])
    passes = []
    real = levers.train_one_epoch
    monkeypatch.setattr(levers, "train_one_epoch",
                        lambda t, lab, c: passes.append((len(lab), c.augment_factor))
                        or real(t, lab, c))
    images = (tiny_data.lab[:, :1].contiguous(), tiny_data.lab[:, 1:].contiguous())
    step, _ = levers.arm("eager", tiny_config(), images)
    step()
    assert passes == []                                     # the bare step: no pipeline
    step, _ = levers.arm("eager", tiny_config(), images, lab=tiny_data.lab)
    step()
    assert passes == [(len(tiny_data.lab), 1)] * 2          # warm-up, then the timed pass


def test_the_throughput_bare_step_trains_in_the_precision_the_pipeline_would():
    from benchmarks.throughput import bare_step
    from colorizer.models import build_model

    for precision, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        cfg = tiny_config(precision=precision)
        torch.manual_seed(0)
        model = build_model(cfg)
        seen = []
        model.decoder.register_forward_hook(lambda m, i, o, seen=seen: seen.append(o.dtype))
        L = torch.rand(4, 1, 16, 16) * 100
        bare_step(model, torch.optim.Adam(model.parameters()), L, torch.rand(4, 2, 4, 4), cfg)
        assert seen == [dtype]


def _tiny_question(bench, name, real_data, monkeypatch):
    """Question `name` shrunk to seconds: 16 px models, one pass over 60 images, 1 or 2 epochs."""
    q = bench.QUESTIONS[name]
    arms = {label: {**over, "widths": (4, 8, 8) if "Architecture 1" in label else (2, 4, 4),
                    "epochs": 2 if "case 2" in label else 1} for label, over in q.arms.items()}
    base = {**q.base, "batch_size": 8, "augment_factor": 1, "limit": 60, "device": "cpu",
            "data": str(real_data), "precision": "float32"}
    monkeypatch.setitem(bench.QUESTIONS, name, replace(q, arms=arms, base=base))
    written = {}
    monkeypatch.setattr(bench, "write_result", lambda n, obj, text: written.update(
        name=n, result=obj, text=text))
    return written


@pytest.mark.parametrize("name, key", [("regressor-2x2", "mean_ab_mse"),
                                       ("colorizer-2x2", "ab_mse")])
def test_the_2x2_question_writes_main_effects_an_interaction_and_the_best_cell(
        real_data, tmp_path, monkeypatch, name, key):
    from benchmarks import study as bench

    written = _tiny_question(bench, name, real_data, monkeypatch)
    args = bench.argparse.Namespace(seeds=[0, 1], keep=str(tmp_path))
    bench.write_answer(name, args, None, [name])
    result = written["result"]
    assert written["name"] == f"study_{name}"
    assert set(result["arms"]) == set(bench.TWO_BY_TWO)
    for split in ("val", "test"):
        effects = result["two_way"][split]["effects"]
        assert [e["name"].split(" ")[0] for e in effects] == ["Architecture", "case",
                                                             "interaction"]
        assert all(e["kind"] in ("present", "cannot tell", "not converged") for e in effects)
        assert result["two_way"][split]["best"]["cell"] == bench.BEST
        assert len(result["two_way"][split]["best"]["texts"]) == 3
    # the interaction is the difference of differences of the four cells' means
    m = {tuple(label.split(", ")): sum(r["val"][key] for r in arm["runs"]) / 2
         for label, arm in result["arms"].items()}
    a1, a2, c1, c2 = "Architecture 1", "Architecture 2", "case 1", "case 2"
    inter = result["two_way"]["val"]["effects"][2]["estimate"]
    assert inter == pytest.approx((m[a2, c2] - m[a2, c1]) - (m[a1, c2] - m[a1, c1]))
    assert "Validation, two-way" in written["text"] and "the best of the four" in written["text"]
    assert "--stem conv" in written["text"] and "commit" in written["text"]


def test_the_spread_question_lists_each_seed_beside_the_studys_two_runs(
        real_data, tmp_path, monkeypatch):
    from benchmarks import study as bench

    written = _tiny_question(bench, "study-spread", real_data, monkeypatch)
    args = bench.argparse.Namespace(seeds=[0, 1, 2], keep=str(tmp_path))
    bench.write_answer("study-spread", args, None, ["study-spread"])
    text = written["text"]
    assert "seed by seed" in text and "10.11 and 13.89" in text
    assert len(written["result"]["arms"][bench.ARCH2_SETTING]["runs"]) == 3


def test_the_hints_benchmark_measures_each_person_and_judges_the_targets():
    from benchmarks import hints as bh
    from colorizer.models import build_model

    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    lab = torch.cat([torch.rand(4, 1, 16, 16) * 100, torch.randn(4, 2, 16, 16) * 20], 1)
    got = bh.measure(model, lab, seed=0)
    assert list(got["random"]) == [str(n) for n in bh.COUNTS]
    assert len(got["corrective"]) == bh.CORRECTIVE + 1 == len(got["worse_steps"]) + 1
    assert got["random"]["0"]["ab_mse"] == pytest.approx(got["corrective"][0])  # no point
    assert got["random"]["10"]["ab_mse"] != got["random"]["0"]["ab_mse"]        # points count
    assert list(got["recolour"]) == [str(n) for n in bh.RECOLOUR]
    # the targets read the figures: a corrective sequence at half the 0-point error meets its
    # target, a rise from 1 to 2 random points breaks the monotone one
    runs = {}
    for seed in ("0", "1"):
        r = json.loads(json.dumps(got))
        r["corrective"] = [10.0] + [5.0] * bh.CORRECTIVE
        r["random"] = {str(n): {"ab_mse": 10.0 - n / 10, "psnr": 30.0} for n in bh.COUNTS}
        r["random"]["2"]["ab_mse"] = 10.5
        runs[seed] = {"test": r, "val": r, "fit_seconds": 1.0}
    rows = {t: ok for t, _, ok in bh.target_rows(bh.figures({"runs": runs}, "test"))}
    assert len(rows) == 7
    assert rows["10 corrective points: at most 60 % of the 0-point error (stretch 50 %)"]
    assert not rows["no count of points worse on average than one fewer (random 0..50, "
                    "corrective 0..10)"]



def test_minutes_groups_each_command_by_its_recipe():
    from benchmarks import minutes

    assert minutes.recipe("--minutes 5 --lr 0.002") == "--lr 0.002"
    assert minutes.recipe("--epochs 41") == minutes.recipe(minutes.DEFAULT) == "today's recipe"
    rows = [{"options": "--minutes 5", "seed": s, "wall_s": w, "epochs": e, "ab_mse": a,
             "psnr": 37.0, "target_s": 300.0}
            for s, w, e, a in ((0, 290.0, 40, 8.0), (1, 294.0, 42, 9.0))]
    got = minutes.summary(rows)["--minutes 5"]
    assert got["ab_mse"] == (8.5, pytest.approx(0.7071, abs=1e-4)) and got["seeds"] == [0, 1]
    assert got["wall_s"][0] == 292.0 and got["target_s"] == 300.0
