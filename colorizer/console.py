"""What a run tells its user: one-line messages and progress bars, each on or off."""

from dataclasses import dataclass

from tqdm import tqdm

from .config import ColorizerError


@dataclass(frozen=True)
class Reporter:
    """Where a run's messages go (`log`; None: nowhere), whether it shows progress bars, and a
    tracker that takes each epoch's figures (`tracker(epoch, {name: value})`; None: none)."""
    log: object = print
    progress: bool = True
    tracker: object = None

    def say(self, message):
        if self.log is not None:
            self.log(message)

    def bar(self, iterable=None, **kw):
        """A tqdm bar that goes when it is done, shown when `progress` is on."""
        return tqdm(iterable, disable=not self.progress, leave=False, **kw)

    def scalars(self, epoch, values):
        if self.tracker is not None:
            self.tracker(epoch, values)


class TensorBoard:
    """A tracker writing each epoch's figures as TensorBoard scalars into `folder`
    (`train --tensorboard`; the optional extra `pip install -e ".[track]"`)."""

    def __init__(self, folder):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ColorizerError('--tensorboard needs tensorboard: pip install -e ".[track]"') \
                from None
        self.writer = SummaryWriter(str(folder))

    def __call__(self, epoch, values):
        for name, value in values.items():
            self.writer.add_scalar(name, value, epoch)
        self.writer.flush()



LOUD = Reporter()                               # messages printed, bars shown
QUIET = Reporter(log=None, progress=False)
