"""Preloaded by the workers' forkserver only: the forkserver dies with the run that started it.

Importing this module is its whole job (a forkserver runs nothing of ours
but its preload imports); see `lifeline` for the chain it completes.
"""

from casparian_tui.sentinel.lifeline import die_with_parent

die_with_parent()
