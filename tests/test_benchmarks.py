from benchmarks.quality import config
from benchmarks.time_to_quality import label
from colorizer import ARCHS, Config
from colorizer.config import preset


def test_configuration_names_with_settings():
    assert config("default") == Config()
    assert config("default-regressor", epochs=3, seed=2) == Config(model="regressor", epochs=3,
                                                                  seed=2)
    got = config("default+head=tanh+arch=1+epochs=3+lr=0.002+flip=false+skips=add", epochs=9)
    assert got == Config(head="tanh", widths=ARCHS[1], epochs=3, lr=0.002, flip=False,
                         skips="add")                   # a name's own epochs win over --epochs
    assert config("colorizer-sigmoid-2+schedule=wsd") == preset("study", head="sigmoid",
                                                                 widths=ARCHS[2], schedule="wsd")


def test_plot_labels_leave_the_epochs_to_the_curve():
    assert label("default") == "default"
    assert label("default+head=classify+epochs=10") == "default, head classify"
