import pytest
import torch

from colorizer import ColorizerError, load_images
from colorizer.cli import build_parser, config_from_args
from colorizer.data import LabImages
from colorizer.distill import load_teachers, target_ab
from colorizer.train import fit

from .conftest import tiny_config


@pytest.fixture
def teacher(tiny_folder, tmp_path):
    fit(tiny_config(epochs=1, data=str(tiny_folder), seed=1), tmp_path / "teacher",
        progress=False, log=None)
    return str(tmp_path / "teacher" / "checkpoint.pt")


def test_the_target_is_the_truths_block_means_and_the_teachers_mean_in_share(teacher):
    teachers = load_teachers([teacher, teacher], "cpu")
    L, ab = torch.rand(3, 1, 16, 16) * 100, torch.randn(3, 2, 16, 16) * 20
    truth = torch.nn.functional.avg_pool2d(ab, 4)                  # block means at 4 x 4
    taught = teachers[0].decode(teachers[0](L), size=(4, 4)).detach()
    assert torch.allclose(target_ab(teachers, 1.0, L, ab, (4, 4)), taught, atol=1e-5)
    assert torch.allclose(target_ab(teachers, 0.25, L, ab, (4, 4)),
                          0.75 * truth + 0.25 * taught, atol=1e-4)
    assert not any(p.requires_grad for p in teachers[0].parameters())


def test_a_student_of_the_teachers_alone_never_sees_the_truth(teacher, tiny_folder):
    """With --distill 1 the truth's a*b* do not matter: the same images with their colours
    removed train the very same weights; with 0.5 they do not."""
    data = load_images(tiny_folder, size=16)
    gray = LabImages(data.names, torch.cat([data.L, torch.zeros_like(data.ab)], 1))

    def student(images, share):
        cfg = tiny_config(epochs=1, teachers=(teacher,), distill=share)
        return fit(cfg, progress=False, data=images, log=None).model.state_dict()

    alone, alone_gray = student(data, 1.0), student(gray, 1.0)
    assert all(torch.equal(alone[k], alone_gray[k]) for k in alone)
    half, half_gray = student(data, 0.5), student(gray, 0.5)
    assert not all(torch.equal(half[k], half_gray[k]) for k in half)


def test_distillation_settings_are_checked_and_read_from_the_command_line(teacher):
    with pytest.raises(ColorizerError, match="--distill"):
        tiny_config(distill=0.5)                                   # no teachers
    with pytest.raises(ColorizerError, match="--teachers"):
        tiny_config(model="regressor", teachers=(teacher,), distill=0.5)
    args = build_parser().parse_args(["train", "--teachers", f"{teacher},{teacher}",
                                      "--distill", "0.5"])
    cfg = config_from_args(args)
    assert cfg.teachers == (teacher, teacher) and cfg.distill == 0.5


def test_a_missing_teacher_is_refused_when_the_run_starts(tmp_path):
    cfg = tiny_config(teachers=(str(tmp_path / "gone.pt"),), distill=0.5)   # settings: fine
    with pytest.raises(ColorizerError, match="--teachers takes existing checkpoint files"):
        fit(cfg, None, progress=False, log=None)


def test_a_regressor_cannot_teach(tiny_folder, tmp_path):
    fit(tiny_config(model="regressor", epochs=1, data=str(tiny_folder)), tmp_path / "r",
        progress=False, log=None)
    with pytest.raises(ColorizerError, match="colorizer checkpoints"):
        load_teachers([tmp_path / "r" / "checkpoint.pt"], "cpu")
