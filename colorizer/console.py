"""What a run tells its user: one-line messages and progress bars, each on or off."""

from dataclasses import dataclass

from tqdm import tqdm


@dataclass(frozen=True)
class Reporter:
    """Where a run's messages go (`log`; None: nowhere) and whether it shows progress bars."""
    log: object = print
    progress: bool = True

    def say(self, message):
        if self.log is not None:
            self.log(message)

    def bar(self, iterable=None, **kw):
        """A tqdm bar that goes when it is done, shown when `progress` is on."""
        return tqdm(iterable, disable=not self.progress, leave=False, **kw)


LOUD = Reporter()                               # messages printed, bars shown
QUIET = Reporter(log=None, progress=False)
