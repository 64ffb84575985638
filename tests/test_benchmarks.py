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


def test_plot_labels_name_what_a_run_trained_with_against_todays_defaults():
    assert label(Config(epochs=3, seed=2).to_dict()) == "default"
    assert label(Config(head="classify", widths=ARCHS[1]).to_dict()) == "--head classify --arch 1"
    older = Config(schedule="cosine", lr=Config().lr / 2)       # named by its settings
    assert label(older.to_dict()) == f"--lr {older.lr} --schedule cosine"
